-- The commit-time trigger finds its row by primary key. A plan cached while the events
-- table looked empty (statistics from an ANALYZE at install) would scan the whole table for
-- every event, so the function never plans a sequential scan.
ALTER FUNCTION parley_events_assign_seq() SET enable_seqscan = off;
