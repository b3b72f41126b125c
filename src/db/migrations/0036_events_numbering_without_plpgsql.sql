-- The sequencer's UPDATE of each event's seq ran the append-only trigger's PL/pgSQL, which
-- compared two to_jsonb copies of the row: a quarter of the sequencer's time. Column lists
-- decide instead: an UPDATE that names any column but seq meets the append-only function
-- as before (which lets a redacting transaction change payloads), and one that names seq
-- may only number an unnumbered event, a condition PostgreSQL evaluates without calling
-- the function. A column added to events must be added to the first list (a test updates
-- every column to hold it to that).
DROP TRIGGER events_append_only ON events;--> statement-breakpoint
CREATE TRIGGER events_append_only
  BEFORE UPDATE OF id, xid, type, conversation_id, agent_id, payload, created_at OR DELETE
  ON events
  FOR EACH ROW EXECUTE FUNCTION parley_events_append_only();--> statement-breakpoint
CREATE TRIGGER events_numbered_once
  BEFORE UPDATE OF seq ON events
  FOR EACH ROW WHEN (OLD.seq IS NOT NULL OR NEW.seq IS NULL)
  EXECUTE FUNCTION parley_events_append_only();
