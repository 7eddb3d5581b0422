CREATE TABLE "stats_delta_kinds" (
	"kind" smallint PRIMARY KEY NOT NULL,
	"table_name" text NOT NULL,
	CONSTRAINT "stats_delta_kinds_table_name_unique" UNIQUE("table_name")
);
--> statement-breakpoint
ALTER TABLE "stats_state" ADD COLUMN "window_owner" text;--> statement-breakpoint
ALTER TABLE "stats_state" ADD COLUMN "snapshot" jsonb;