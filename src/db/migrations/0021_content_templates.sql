CREATE TABLE "content_templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"sid" text NOT NULL,
	"friendly_name" text NOT NULL,
	"language" text NOT NULL,
	"body" text NOT NULL,
	"variables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"types" text[] DEFAULT '{}'::text[] NOT NULL,
	"whatsapp_status" text DEFAULT 'unsubmitted' NOT NULL,
	"whatsapp_category" text,
	"rejection_reason" text,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "content_templates_account_sid_key" UNIQUE("account_id","sid")
);
--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "window_templates" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "content_sid" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "content_variables" jsonb;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_as" text;--> statement-breakpoint
ALTER TABLE "queues" ADD COLUMN "content_sids" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "content_templates" ADD CONSTRAINT "content_templates_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;