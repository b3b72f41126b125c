-- Events get their place in the log (seq) at commit, under a lock taken only then: commit
-- order and seq order agree, and since the lock is the last one a transaction takes, it
-- cannot deadlock with the row locks the transaction took before.
CREATE SEQUENCE events_seq_seq AS bigint;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The one change allowed: the commit-time trigger giving a new event its seq.
  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
     AND (to_jsonb(NEW) - 'seq') = (to_jsonb(OLD) - 'seq') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$;
--> statement-breakpoint
CREATE FUNCTION parley_events_assign_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7331002);
  UPDATE events SET seq = nextval('events_seq_seq') WHERE id = NEW.id AND seq IS NULL;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER events_assign_seq
  AFTER INSERT ON events
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION parley_events_assign_seq();
