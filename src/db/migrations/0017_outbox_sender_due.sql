DROP INDEX "outbox_due_idx";--> statement-breakpoint
CREATE INDEX "outbox_sender_due_idx" ON "outbox" USING btree ("sender","next_attempt_at","created_at") WHERE "outbox"."state" = 'pending';