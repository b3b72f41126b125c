CREATE TABLE "held_status_reports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"message_sid" text NOT NULL,
	"account_id" uuid NOT NULL,
	"status" text NOT NULL,
	"error_code" integer,
	"error_message" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "held_status_reports" ADD CONSTRAINT "held_status_reports_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "held_status_reports_sid_idx" ON "held_status_reports" USING btree ("message_sid");