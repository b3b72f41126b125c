CREATE TABLE "media_blobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"sha256" text,
	"size" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "media_blobs_sha256_key" UNIQUE("sha256")
);
--> statement-breakpoint
CREATE TABLE "media_chunks" (
	"blob_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"bytes" "bytea" NOT NULL,
	CONSTRAINT "media_chunks_blob_id_position_pk" PRIMARY KEY("blob_id","position")
);
--> statement-breakpoint
ALTER TABLE "media_chunks" ADD CONSTRAINT "media_chunks_blob_id_media_blobs_id_fk" FOREIGN KEY ("blob_id") REFERENCES "public"."media_blobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "media_blobs_incomplete_idx" ON "media_blobs" USING btree ("created_at") WHERE "media_blobs"."sha256" IS NULL;--> statement-breakpoint
-- Pictures and video are compressed already: TOAST stores the chunks out of line without
-- spending CPU on trying to compress them again.
ALTER TABLE "media_chunks" ALTER COLUMN "bytes" SET STORAGE EXTERNAL;
