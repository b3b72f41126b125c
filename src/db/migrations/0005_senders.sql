CREATE TABLE "senders" (
	"sender" text PRIMARY KEY NOT NULL,
	"rate" real NOT NULL,
	"next_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "senders_rate_check" CHECK ("senders"."rate" > 0)
);
