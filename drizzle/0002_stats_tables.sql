CREATE TABLE "stats_consultant_groups" (
	"practice_id" integer NOT NULL,
	"availability" "availability" NOT NULL,
	"consultants" bigint NOT NULL,
	"daily_rate_sum" bigint NOT NULL,
	CONSTRAINT "stats_consultant_groups_practice_id_availability_pk" PRIMARY KEY("practice_id","availability")
);
--> statement-breakpoint
CREATE TABLE "stats_deltas" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" smallint NOT NULL,
	"practice_id" integer,
	"availability" "availability",
	"status" "mission_status",
	"skill_id" integer,
	"count_delta" bigint NOT NULL,
	"sum_delta" bigint DEFAULT 0 NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stats_mission_groups" (
	"status" "mission_status" PRIMARY KEY NOT NULL,
	"missions" bigint NOT NULL,
	"daily_rate_sum" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stats_skill_groups" (
	"skill_id" integer PRIMARY KEY NOT NULL,
	"consultants" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stats_state" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"version" bigint NOT NULL,
	"folded_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"refold_expected_until" timestamp (3) with time zone,
	"woken_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"rebuilt_at" timestamp (3) with time zone,
	CONSTRAINT "stats_state_single_row" CHECK ("stats_state"."id" = 1)
);
