ALTER TABLE "accounts" ADD COLUMN "default_country" text DEFAULT 'US' NOT NULL;--> statement-breakpoint
ALTER TABLE "numbers" ADD COLUMN "capabilities" text[];