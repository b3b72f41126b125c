CREATE TABLE "retention_schedule" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"next_run_at" timestamp with time zone DEFAULT '-infinity' NOT NULL,
	"last_run_at" timestamp with time zone,
	CONSTRAINT "retention_schedule_one_row_check" CHECK ("retention_schedule"."id" = 1)
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "retention_days" integer;--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "erased_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "conversation_notes" ADD COLUMN "redacted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "redacted_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "conversation_notes_unredacted_idx" ON "conversation_notes" USING btree ("created_at") WHERE "conversation_notes"."redacted_at" IS NULL;--> statement-breakpoint
CREATE INDEX "media_sha256_idx" ON "media" USING btree ("sha256");--> statement-breakpoint
CREATE INDEX "messages_unredacted_idx" ON "messages" USING btree ("number_id","created_at") WHERE "messages"."redacted_at" IS NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_retention_days_check" CHECK ("accounts"."retention_days" IS NULL OR "accounts"."retention_days" > 0);
--> statement-breakpoint
INSERT INTO "retention_schedule" ("id") VALUES (1);
--> statement-breakpoint
-- Retention and erasure must take message bodies, note bodies and phone numbers out of the
-- event log too, or transcripts and the live feed would still show them. The one exception
-- to append-only besides the sequencer's numbering: a transaction that says it is redacting
-- (SET LOCAL parley.redacting = 'on', see redactEventPayloads in src/event-log.ts) may change
-- an event's payload, and nothing else of it. DELETE and TRUNCATE stay refused.
CREATE OR REPLACE FUNCTION parley_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
     AND (to_jsonb(NEW) - 'seq') = (to_jsonb(OLD) - 'seq') THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND current_setting('parley.redacting', true) = 'on'
     AND (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$;
