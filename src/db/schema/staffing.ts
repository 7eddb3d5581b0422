import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import {
  bigint,
  check,
  date,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  serial,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const availabilityEnum = pgEnum('availability', ['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE']);
export const missionStatusEnum = pgEnum('mission_status', [
  'PLANNED',
  'ACTIVE',
  'COMPLETED',
  'CANCELLED',
]);
export const gradeEnum = pgEnum('grade', [
  'JUNIOR',
  'CONSULTANT',
  'SENIOR',
  'MANAGER',
  'DIRECTOR',
  'PARTNER',
]);
export const documentKindEnum = pgEnum('document_kind', [
  'CV',
  'CONTRACT',
  'CERTIFICATION',
  'MISSION_REPORT',
  'ID_DOCUMENT',
]);

export const practices = pgTable('practices', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
});

export const skills = pgTable(
  'skills',
  {
    id: serial('id').primaryKey(),
    name: text('name').notNull().unique(),
    category: text('category').notNull(),
  },
  (t) => [index('skills_category_name_idx').on(t.category, t.name)],
);

export const consultants = pgTable(
  'consultants',
  {
    id: serial('id').primaryKey(),
    firstName: text('first_name').notNull(),
    lastName: text('last_name').notNull(),
    email: text('email').notNull(),
    practiceId: integer('practice_id')
      .notNull()
      .references(() => practices.id),
    grade: gradeEnum('grade').notNull(),
    dailyRate: integer('daily_rate').notNull(),
    availability: availabilityEnum('availability').notNull().default('AVAILABLE'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    /**
     * What a name search matches, lower-cased once when the row is written.
     * In a UTF-8 database `x ILIKE p` is `lower(x) LIKE lower(p)` (PostgreSQL
     * lower-cases both sides itself), so `search_text LIKE lower(p)` keeps
     * ILIKE's results while costing a byte comparison per row instead of a
     * lower-casing of the whole text (0.14 vs 0.97 µs a row). Never read
     * back: `consultantColumns` leaves it out.
     */
    searchText: text('search_text')
      .notNull()
      .generatedAlwaysAs(
        (): SQL =>
          sql`lower(${consultants.firstName} || ' ' || ${consultants.lastName} || ' ' || ${consultants.email})`,
      ),
  },
  (t) => [
    uniqueIndex('consultants_email_key').on(t.email),
    check('consultants_daily_rate_positive', sql`${t.dailyRate} > 0`),
    // Keyset pagination orders by (column, id); each order has its own index.
    // Also INCLUDE (search_text, practice_id, availability) for index-only searches: migrations 0006 and 0010.
    index('consultants_last_name_id_idx').on(t.lastName, t.id),
    index('consultants_created_at_id_idx').on(t.createdAt, t.id),
    index('consultants_daily_rate_id_idx').on(t.dailyRate, t.id),
    index('consultants_practice_last_name_id_idx').on(t.practiceId, t.lastName, t.id),
    index('consultants_availability_idx').on(t.availability),
    index('consultants_updated_at_idx').on(t.updatedAt),
    // Search is a literal substring match over name and email: trigram GIN
    // keeps `LIKE '%…%'` indexed at a million rows.
    index('consultants_search_text_trgm_idx').using('gin', sql`${t.searchText} gin_trgm_ops`),
  ],
);

export const consultantSkills = pgTable(
  'consultant_skills',
  {
    consultantId: integer('consultant_id')
      .notNull()
      .references(() => consultants.id, { onDelete: 'cascade' }),
    skillId: integer('skill_id')
      .notNull()
      .references(() => skills.id, { onDelete: 'cascade' }),
    level: smallint('level').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.consultantId, t.skillId] }),
    index('consultant_skills_skill_id_idx').on(t.skillId, t.consultantId),
    check('consultant_skills_level_range', sql`${t.level} BETWEEN 1 AND 5`),
  ],
);

export const missions = pgTable(
  'missions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    consultantId: integer('consultant_id')
      .notNull()
      .references(() => consultants.id, { onDelete: 'cascade' }),
    client: text('client').notNull(),
    title: text('title').notNull(),
    startDate: date('start_date', { mode: 'string' }).notNull(),
    endDate: date('end_date', { mode: 'string' }),
    dailyRate: integer('daily_rate').notNull(),
    status: missionStatusEnum('status').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    check('missions_daily_rate_positive', sql`${t.dailyRate} > 0`),
    check('missions_dates_ordered', sql`${t.endDate} IS NULL OR ${t.endDate} >= ${t.startDate}`),
    // Per-consultant mission lists page newest first.
    index('missions_consultant_start_id_idx').on(t.consultantId, t.startDate.desc(), t.id.desc()),
    // The root missions connection pages by (start_date, id), optionally by status.
    index('missions_start_id_idx').on(t.startDate, t.id),
    index('missions_status_start_id_idx').on(t.status, t.startDate, t.id),
    index('missions_current_idx')
      .on(t.consultantId, t.startDate.desc())
      .where(sql`${t.status} = 'ACTIVE'`),
    index('missions_updated_at_idx').on(t.updatedAt),
  ],
);

export const documents = pgTable(
  'documents',
  {
    id: serial('id').primaryKey(),
    consultantId: integer('consultant_id')
      .notNull()
      .references(() => consultants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: documentKindEnum('kind').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    uploadedAt: timestamp('uploaded_at', { withTimezone: true, precision: 3 })
      .notNull()
      .defaultNow(),
  },
  (t) => [index('documents_consultant_uploaded_idx').on(t.consultantId, t.uploadedAt.desc(), t.id)],
);

export type PracticeRow = typeof practices.$inferSelect;
export type SkillRow = typeof skills.$inferSelect;
/** Every column a consultant is read with: all but the search text. */
export const consultantColumns = (({ searchText: _, ...columns }) => columns)(
  getTableColumns(consultants),
);
export type ConsultantRow = Omit<typeof consultants.$inferSelect, 'searchText'>;
export type MissionRow = typeof missions.$inferSelect;
export type DocumentRow = typeof documents.$inferSelect;
