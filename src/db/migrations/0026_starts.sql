ALTER TABLE "flows" ADD COLUMN "allow_agent_attachments" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "greet_outreach_replies" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "language" text DEFAULT 'en' NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "message_variants" jsonb DEFAULT '{}'::jsonb NOT NULL;