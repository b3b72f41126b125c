ALTER TABLE "flows" ADD COLUMN "allow_agent_attachments" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "greet_outreach_replies" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "language" text DEFAULT 'en' NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "message_variants" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_unattached_idx" ON "messages" USING btree ("number_id","to_address") WHERE "messages"."conversation_id" IS NULL;