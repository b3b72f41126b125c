ALTER TABLE "held_status_reports" ADD COLUMN "carrier" text;--> statement-breakpoint
ALTER TABLE "numbers" ADD COLUMN "rcs_sender" text;