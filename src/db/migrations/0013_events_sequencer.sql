-- Events are numbered after commit by a sequencer (src/realtime/sequencer.ts), no longer at
-- commit under a lock that made every writer wait for every other's commit. Each event
-- records its transaction; seq stays null until the sequencer gives it.
ALTER TABLE "events" ADD COLUMN "xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
CREATE INDEX "events_unnumbered_idx" ON "events" USING btree ("xid","id") WHERE seq IS NULL;--> statement-breakpoint
DROP TRIGGER events_assign_seq ON events;--> statement-breakpoint
DROP FUNCTION parley_events_assign_seq();--> statement-breakpoint
-- The sequencer notifies once per batch it numbers.
DROP TRIGGER events_notify ON events;--> statement-breakpoint
DROP FUNCTION parley_events_notify();--> statement-breakpoint
-- Numbers continue from max(seq), without gaps; the sequence could leave some.
DROP SEQUENCE events_seq_seq;
