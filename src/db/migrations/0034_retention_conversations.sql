CREATE TABLE "media_deletions" (
	"sha256" text PRIMARY KEY NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text
);
--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "redacted_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "media_deletions_due_idx" ON "media_deletions" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "conversations_unredacted_idx" ON "conversations" USING btree ("number_id","closed_at") WHERE "conversations"."redacted_at" IS NULL AND "conversations"."closed_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "events_unattached_message_idx" ON "events" USING btree (("payload" ->> 'messageId')) WHERE "events"."conversation_id" IS NULL AND ("events"."payload" ->> 'messageId') IS NOT NULL;