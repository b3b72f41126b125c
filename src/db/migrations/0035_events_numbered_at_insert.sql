-- On the embedded store one connection runs one transaction at a time, so an event can take
-- its place in the log as it is written: max(seq) + 1 is final, without gaps (a rolled-back
-- transaction's numbers are taken again by the next), and in commit order. The sequencer's
-- pass after commit rewrote every event through all the table's indexes, a fifth of the
-- embedded store's time under load. Parley's PGlite connection turns this on with
-- parley.events_numbered_at_insert; on PostgreSQL, where transactions overlap, the setting
-- is absent and the sequencer numbers after commit. A row-level BEFORE trigger of a volatile
-- function sees the rows the same statement inserted before it, so a multi-row insert
-- numbers each row after the last.
CREATE FUNCTION parley_events_number_at_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.seq := coalesce((SELECT max(seq) FROM events), 0) + 1;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER events_number_at_insert
  BEFORE INSERT ON events
  FOR EACH ROW
  WHEN (current_setting('parley.events_numbered_at_insert', true) = 'on')
  EXECUTE FUNCTION parley_events_number_at_insert();
