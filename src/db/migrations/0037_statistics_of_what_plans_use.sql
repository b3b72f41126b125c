-- ANALYZE of the two busiest tables spent most of its time on statistics no plan uses:
-- the lexemes of every sampled message body, for the search index's expression (on the
-- embedded store ~50 of ~80 ms, in Parley's thread, every few thousand texts), and the
-- events' JSON payloads (12 of ~20 ms), which queries read through ->> expressions whose
-- estimates never come from column statistics. A full-text match is then estimated at
-- PostgreSQL's default selectivity (0.5%), so a search uses the index whatever the word. A store
-- analysed before this keeps the statistics it had (only a superuser may delete them): the
-- planner goes on using those, as it did.
ALTER INDEX messages_body_search_idx ALTER COLUMN 1 SET STATISTICS 0;--> statement-breakpoint
ALTER TABLE events ALTER COLUMN payload SET STATISTICS 0;
