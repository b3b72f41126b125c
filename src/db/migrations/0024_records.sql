CREATE TABLE "conversation_notes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"conversation_id" uuid NOT NULL,
	"author_id" uuid,
	"body" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "survey_responses" (
	"conversation_id" uuid PRIMARY KEY NOT NULL,
	"number_id" uuid NOT NULL,
	"customer_address" text NOT NULL,
	"scale" text NOT NULL,
	"asked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"awaiting_until" timestamp with time zone,
	"score" smallint,
	"answered_at" timestamp with time zone,
	"comment" text,
	"commented_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "email" text;--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "notes" text;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "disposition" text;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "wrap_up_summary" text;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "survey_scale" text DEFAULT 'score' NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "survey_window_minutes" integer DEFAULT 1440 NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "survey_comment_prompt" text;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "survey_thanks_message" text;--> statement-breakpoint
ALTER TABLE "queues" ADD COLUMN "dispositions" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "queues" ADD COLUMN "disposition_required" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "conversation_notes" ADD CONSTRAINT "conversation_notes_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_notes" ADD CONSTRAINT "conversation_notes_author_id_users_id_fk" FOREIGN KEY ("author_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "survey_responses" ADD CONSTRAINT "survey_responses_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "survey_responses" ADD CONSTRAINT "survey_responses_number_id_numbers_id_fk" FOREIGN KEY ("number_id") REFERENCES "public"."numbers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "conversation_notes_conversation_idx" ON "conversation_notes" USING btree ("conversation_id","created_at");--> statement-breakpoint
CREATE INDEX "survey_responses_awaiting_idx" ON "survey_responses" USING btree ("number_id","customer_address","awaiting_until") WHERE "survey_responses"."awaiting_until" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "conversations_created_idx" ON "conversations" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "events_created_brin" ON "events" USING brin ("created_at");--> statement-breakpoint
CREATE INDEX "messages_body_search_idx" ON "messages" USING gin (to_tsvector('simple', "body"));--> statement-breakpoint
CREATE INDEX "messages_created_brin" ON "messages" USING brin ("created_at");