-- Wakes the realtime gateways' tailers when events commit: NOTIFY is delivered at commit
-- (and not at all on rollback), after the deferred trigger of 0004 gave the events their
-- seq. The payload is empty: a wake-up only, the tailer reads the log itself and polls in
-- case a notification is lost. One per statement, and PostgreSQL folds identical
-- notifications of one transaction into one.
CREATE FUNCTION parley_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('parley_events', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER events_notify
  AFTER INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION parley_events_notify();
