CREATE TABLE "origination_templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"number_id" uuid NOT NULL,
	"strategy" text NOT NULL,
	"body" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "numbers" ADD COLUMN "origination_allowed" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "numbers" ADD COLUMN "origination_roles" text[];--> statement-breakpoint
ALTER TABLE "numbers" ADD COLUMN "default_strategy" text DEFAULT 'on-reply' NOT NULL;--> statement-breakpoint
ALTER TABLE "queues" ADD COLUMN "default_sender_number_id" uuid;--> statement-breakpoint
ALTER TABLE "origination_templates" ADD CONSTRAINT "origination_templates_number_id_numbers_id_fk" FOREIGN KEY ("number_id") REFERENCES "public"."numbers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "origination_templates_name_key" ON "origination_templates" USING btree (lower("name"));--> statement-breakpoint
ALTER TABLE "queues" ADD CONSTRAINT "queues_default_sender_number_id_numbers_id_fk" FOREIGN KEY ("default_sender_number_id") REFERENCES "public"."numbers"("id") ON DELETE set null ON UPDATE no action;