import {
  AVAILABILITIES,
  CERTIFICATIONS,
  DOCUMENT_KINDS,
  DOCUMENT_SIZES,
  GRADE_PROFILES,
  GRADES,
  LATER_DOCUMENT_WEIGHTS,
  MISSION_TITLE_VARIANTS,
  ON_MISSION,
  PRACTICES,
  SKILLS,
} from './catalog.js';
import { type Calendar, COPY_CHUNK_CHARS, COPY_NULL, DAY_MS, escapeCopyText } from './copy-text.js';
import { type ConsultantPlan, MISSION_HISTORY_DAYS, type NamePools } from './plan.js';
import { cumulativeWeights, Random } from './random.js';

/**
 * Generators of COPY text for each table. Each yields chunks of about
 * {@link COPY_CHUNK_CHARS} characters holding many rows, so the stream
 * machinery runs once per chunk rather than once per row, and nothing but the
 * current chunk is ever in memory.
 */

export interface RowContext {
  seed: number;
  practices: number;
  plan: ConsultantPlan;
  pools: NamePools;
  calendar: Calendar;
  /** Called every {@link PROGRESS_EVERY} rows of the big tables. */
  onRows?: (rows: number) => void;
}

export const PROGRESS_EVERY = 1_000_000;

export const PRACTICE_COLUMNS = 'id, name';
export const SKILL_COLUMNS = 'id, name, category';
export const CONSULTANT_COLUMNS =
  'id, first_name, last_name, email, practice_id, grade, daily_rate, availability, created_at, updated_at';
export const CONSULTANT_SKILL_COLUMNS = 'consultant_id, skill_id, level';
export const MISSION_COLUMNS =
  'id, consultant_id, client, title, start_date, end_date, daily_rate, status, created_at, updated_at';
export const DOCUMENT_COLUMNS = 'id, consultant_id, name, kind, size_bytes, uploaded_at';

export function* practiceRows(practices: number): Generator<string> {
  let chunk = '';
  for (let i = 0; i < practices; i += 1) {
    chunk += `${i + 1}\t${escapeCopyText((PRACTICES[i] as (typeof PRACTICES)[number]).name)}\n`;
  }
  yield chunk;
}

export function* skillRows(): Generator<string> {
  let chunk = '';
  SKILLS.forEach((skill, index) => {
    chunk += `${index + 1}\t${escapeCopyText(skill.name)}\t${skill.category}\n`;
  });
  yield chunk;
}

/** A time of day in ms, inside office hours so timestamps look like people made them. */
function officeTimeMs(random: Random): number {
  return random.int(8 * 3600, 19 * 3600) * 1000 + random.int(0, 999);
}

export function* consultantRows(context: RowContext): Generator<string> {
  const { plan, pools, calendar } = context;
  const random = new Random(context.seed, 'consultants');
  const referenceMs = calendar.referenceMs;
  let chunk = '';
  for (let i = 0; i < plan.count; i += 1) {
    const id = i + 1;
    const first = plan.firstName[i] as number;
    const last = plan.lastName[i] as number;
    const createdAtMs = plan.createdAtMs[i] as number;
    // Many records were never touched again after the hire.
    const updatedAtMs = random.chance(0.4)
      ? createdAtMs
      : createdAtMs + Math.floor(random.next() * (referenceMs - createdAtMs));
    // The id makes the address unique whatever the name collisions.
    const email = `${pools.firstNameEmailSlugs[first]}.${pools.lastNameEmailSlugs[last]}.${id}@consultator.fr`;
    chunk +=
      `${id}\t${pools.firstNames[first]}\t${pools.lastNames[last]}\t${email}\t` +
      `${(plan.practice[i] as number) + 1}\t${GRADES[plan.grade[i] as number]}\t${plan.dailyRate[i]}\t` +
      `${AVAILABILITIES[plan.availability[i] as number]}\t` +
      `${calendar.timestamp(createdAtMs)}\t${calendar.timestamp(updatedAtMs)}\n`;
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
    if (id % PROGRESS_EVERY === 0) context.onRows?.(id);
  }
  if (chunk !== '') yield chunk;
}

/** Skill ids (1-based) grouped by the practices whose consultants usually have them. */
function skillIdsByPractice(practices: number): number[][] {
  return PRACTICES.slice(0, practices).map((practice) =>
    SKILLS.flatMap((skill, index) =>
      (practice.categories as readonly string[]).includes(skill.category) ? [index + 1] : [],
    ),
  );
}

export function* consultantSkillRows(context: RowContext): Generator<string> {
  const { plan } = context;
  const random = new Random(context.seed, 'consultant-skills');
  const bySkillPractice = skillIdsByPractice(context.practices);
  const chosen: number[] = [];
  let rows = 0;
  let chunk = '';
  for (let i = 0; i < plan.count; i += 1) {
    const id = i + 1;
    const practiceSkills = bySkillPractice[plan.practice[i] as number] as number[];
    const typicalLevel = (
      GRADE_PROFILES[plan.grade[i] as number] as (typeof GRADE_PROFILES)[number]
    ).skillLevel;
    const wanted = random.int(3, 8);
    chosen.length = 0;
    while (chosen.length < wanted) {
      // Mostly the practice's own skills, plus a few from anywhere.
      const skillId = random.chance(0.7)
        ? (practiceSkills[random.index(practiceSkills.length)] as number)
        : random.int(1, SKILLS.length);
      if (chosen.includes(skillId)) continue;
      chosen.push(skillId);
      const noise = (random.next() + random.next() - 1) * 2.2;
      const level = Math.min(5, Math.max(1, Math.round(typicalLevel + noise)));
      chunk += `${id}\t${skillId}\t${level}\n`;
      rows += 1;
      if (rows % PROGRESS_EVERY === 0) context.onRows?.(rows);
    }
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/** Chance that a consultant has a mission lined up, by availability. */
const PLANNED_CHANCE = [0.35, 0.12, 0.2];

/** Every title of every practice, with its follow-up variants, ready to pick from. */
function missionTitlesByPractice(practices: number): string[][] {
  return PRACTICES.slice(0, practices).map((practice) =>
    practice.missionTitles.flatMap((title) =>
      MISSION_TITLE_VARIANTS.map((variant) => escapeCopyText(title + variant)),
    ),
  );
}

/**
 * Missions, consultant by consultant, in date order for each. The split of
 * `missions` over consultants follows their tenure; each ON_MISSION consultant
 * gets exactly one ACTIVE mission, which is why the plan never has more of them
 * than there are missions.
 *
 * Layout per consultant, without overlaps: past missions (COMPLETED, a few
 * CANCELLED) share the time between the hire (or four years back) and the
 * present mission; then the ACTIVE one, started before the reference date and
 * open-ended or ending after it; then maybe a PLANNED one starting after it.
 */
export function* missionRows(context: RowContext, total: number): Generator<string> {
  const { plan, pools, calendar } = context;
  const random = new Random(context.seed, 'missions');
  const titles = missionTitlesByPractice(context.practices);
  const referenceDay = calendar.referenceDay;
  const referenceMs = calendar.referenceMs;
  const historyStartDay = referenceDay - MISSION_HISTORY_DAYS;
  const clientCount = pools.clients.length;

  let remaining = total;
  let remainingWeight = plan.missionWeightTotal;
  let onMissionAfter = plan.onMissionCount;
  let id = 0;
  let chunk = '';

  for (let i = 0; i < plan.count && remaining > 0; i += 1) {
    const consultantId = i + 1;
    const availability = plan.availability[i] as number;
    const onMission = availability === ON_MISSION;
    if (onMission) onMissionAfter -= 1;
    const weight = plan.missionWeight[i] as number;

    let count: number;
    if (i === plan.count - 1) {
      count = remaining;
    } else {
      const expected = (remaining * weight) / remainingWeight;
      count = Math.floor(expected * (0.5 + random.next()) + random.next());
      // Keep enough missions back for every staffed consultant still to come.
      count = Math.min(Math.max(count, onMission ? 1 : 0), remaining - onMissionAfter);
    }
    remaining -= count;
    remainingWeight -= weight;
    if (count === 0) continue;

    const createdAtMs = plan.createdAtMs[i] as number;
    const hireDay = Math.floor(createdAtMs / DAY_MS);
    const windowStartDay = Math.max(historyStartDay, hireDay + 1);
    const consultantRate = plan.dailyRate[i] as number;
    const ownTitles = titles[plan.practice[i] as number] as string[];

    let activeStart = 0;
    let activeEnd = -1;
    if (onMission) {
      const longestAge = Math.max(1, Math.min(540, referenceDay - windowStartDay));
      activeStart = referenceDay - 1 - Math.floor(longestAge * random.next() ** 1.5);
      activeStart = Math.max(activeStart, windowStartDay);
      activeEnd = random.chance(0.35) ? -1 : referenceDay + random.int(14, 365);
    }
    const canPlan = !onMission || activeEnd !== -1;
    const planned =
      count > (onMission ? 1 : 0) && canPlan && random.chance(PLANNED_CHANCE[availability] ?? 0)
        ? 1
        : 0;
    const past = count - (onMission ? 1 : 0) - planned;

    let client = -1;
    const emit = (startDay: number, endDay: number, status: string) => {
      id += 1;
      // Renewals at the same client are common; otherwise big accounts dominate.
      if (client < 0 || !random.chance(0.35)) {
        client = Math.floor(clientCount * random.next() ** 2);
      }
      const title = random.chance(0.85)
        ? (ownTitles[random.index(ownTitles.length)] as string)
        : (random.pick(titles[random.index(titles.length)] as string[]) as string);
      const yearsAgo = Math.max(0, referenceDay - startDay) / 365;
      const rate = Math.max(
        100,
        Math.round((consultantRate * (0.88 + 0.27 * random.next()) * (1 - 0.03 * yearsAgo)) / 5) *
          5,
      );
      const latestCreatedMs = referenceMs - random.int(1, 72) * 3_600_000;
      // Never before the consultant's own record, which is at least two weeks old.
      const createdAtMs = Math.max(
        (plan.createdAtMs[i] as number) + random.int(10, 600) * 60_000,
        Math.min((startDay - random.int(5, 45)) * DAY_MS + officeTimeMs(random), latestCreatedMs),
      );
      let updatedAtMs: number;
      if (status === 'COMPLETED') {
        const closedMs = (endDay + random.int(0, 10)) * DAY_MS + officeTimeMs(random);
        updatedAtMs = Math.max(createdAtMs, Math.min(closedMs, referenceMs));
      } else {
        updatedAtMs = createdAtMs + Math.floor(random.next() * (referenceMs - createdAtMs));
      }
      chunk +=
        `${id}\t${consultantId}\t${pools.clients[client]}\t${title}\t${calendar.date(startDay)}\t` +
        `${endDay < 0 ? COPY_NULL : calendar.date(endDay)}\t${rate}\t${status}\t` +
        `${calendar.timestamp(createdAtMs)}\t${calendar.timestamp(updatedAtMs)}\n`;
      if (id % PROGRESS_EVERY === 0) context.onRows?.(id);
    };

    if (past > 0) {
      const pastEndDay = Math.max(
        windowStartDay,
        onMission ? activeStart - random.int(1, 21) : referenceDay - random.int(1, 120),
      );
      const slotDays = (pastEndDay - windowStartDay + 1) / past;
      for (let k = 0; k < past; k += 1) {
        const slotStart = windowStartDay + Math.floor(k * slotDays);
        const slotEnd = Math.max(slotStart, windowStartDay + Math.floor((k + 1) * slotDays) - 1);
        const startDay = slotStart + Math.floor((slotEnd - slotStart) * 0.2 * random.next());
        const endDay = startDay + Math.floor((slotEnd - startDay) * (0.6 + 0.4 * random.next()));
        emit(startDay, endDay, random.chance(0.06) ? 'CANCELLED' : 'COMPLETED');
      }
    }
    if (onMission) emit(activeStart, activeEnd, 'ACTIVE');
    if (planned === 1) {
      const earliest = onMission ? activeEnd + 1 : referenceDay + 3;
      const startDay = earliest + random.int(0, 90);
      emit(startDay, random.chance(0.2) ? -1 : startDay + random.int(30, 365), 'PLANNED');
    }

    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/** Log-uniform, so small files are as common as big ones per order of magnitude. */
function fileSize(random: Random, [min, max]: [number, number]): number {
  return Math.round(min * (max / min) ** random.next());
}

/**
 * Documents, consultant by consultant: each one's first is a CV, later ones
 * are contracts, certificates, mission reports, identity papers or a newer CV.
 */
export function* documentRows(context: RowContext, total: number): Generator<string> {
  const { plan, pools, calendar } = context;
  const random = new Random(context.seed, 'documents');
  const laterKinds = cumulativeWeights(LATER_DOCUMENT_WEIGHTS);
  const referenceMs = calendar.referenceMs;
  let remaining = total;
  let id = 0;
  let chunk = '';

  for (let i = 0; i < plan.count && remaining > 0; i += 1) {
    const consultantsLeft = plan.count - i;
    const count =
      consultantsLeft === 1
        ? remaining
        : Math.min(
            remaining,
            Math.floor((remaining / consultantsLeft) * (0.3 + 1.4 * random.next()) + random.next()),
          );
    remaining -= count;
    const lastName = pools.lastNameFileSlugs[plan.lastName[i] as number] as string;
    const createdAtMs = plan.createdAtMs[i] as number;

    for (let k = 0; k < count; k += 1) {
      id += 1;
      const kind = DOCUMENT_KINDS[k === 0 ? 0 : random.weighted(laterKinds)] as string;
      const uploadedAtMs = createdAtMs + Math.floor(random.next() * (referenceMs - createdAtMs));
      const year = calendar.date(Math.floor(uploadedAtMs / DAY_MS)).slice(0, 4);
      let name: string;
      switch (kind) {
        case 'CV':
          name = `CV_${lastName}_${year}.pdf`;
          break;
        case 'CONTRACT':
          name = `Contrat_${lastName}_${year}.pdf`;
          break;
        case 'CERTIFICATION':
          name = `Certification_${random.pick(CERTIFICATIONS)}_${lastName}_${year}.pdf`;
          break;
        case 'MISSION_REPORT': {
          const client = Math.floor(pools.clientFileSlugs.length * random.next() ** 2);
          name = `Rapport_Mission_${pools.clientFileSlugs[client]}_${year}.pdf`;
          break;
        }
        default:
          name = `Piece_Identite_${lastName}.pdf`;
      }
      const size = fileSize(random, DOCUMENT_SIZES[kind as keyof typeof DOCUMENT_SIZES]);
      chunk += `${id}\t${i + 1}\t${name}\t${kind}\t${size}\t${calendar.timestamp(uploadedAtMs)}\n`;
      if (id % PROGRESS_EVERY === 0) context.onRows?.(id);
    }
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}
