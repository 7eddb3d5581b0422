import { base, en, Faker, fr } from '@faker-js/faker';
import {
  AVAILABLE,
  CLIENT_NAME_PATTERNS,
  COMPOUND_FIRST_NAMES,
  GRADE_PROFILES,
  MAX_DAILY_RATE,
  ON_MISSION,
  PARTICLE_LAST_NAMES,
  PRACTICES,
  UNAVAILABLE,
} from './catalog.js';
import { DAY_MS, emailSlug, escapeCopyText, fileSlug } from './copy-text.js';
import { cumulativeWeights, Random } from './random.js';

/**
 * Names drawn once from a seeded faker. Their sizes are fixed, not scaled to
 * the row counts, so the same seed gives the same names to consultant 1
 * whether 1,000 or 1,000,000 are generated.
 */
export interface NamePools {
  /** COPY-escaped display names. */
  firstNames: string[];
  firstNameEmailSlugs: string[];
  /** Index where the hyphenated compound first names start. */
  compoundFirstNamesFrom: number;
  lastNames: string[];
  lastNameEmailSlugs: string[];
  lastNameFileSlugs: string[];
  /** Index ranges in `lastNames`: plain [0, doubleFrom), double-barrelled, then particles. */
  doubleLastNamesFrom: number;
  particleLastNamesFrom: number;
  /** COPY-escaped client company names, biggest accounts first. */
  clients: string[];
  clientFileSlugs: string[];
}

const PLAIN_FIRST_NAMES = 1500;
const PLAIN_LAST_NAMES = 1500;
const DOUBLE_LAST_NAMES = 200;
const CLIENTS = 400;

/** "Da silva" → "Da Silva": faker's French list lowercases the second word. */
function capitalizeWords(name: string): string {
  return name.replace(/(^|[\s-])(\p{Ll})/gu, (_match, separator: string, letter: string) => {
    return separator + letter.toUpperCase();
  });
}

/** Builds the name and client pools from faker's French locale, seeded with `seed`. */
export function buildNamePools(seed: number): NamePools {
  // A private instance: seeding the shared `fakerFR` would reseed (and be
  // disturbed by) every other user of it in the process.
  const faker = new Faker({ locale: [fr, en, base] });
  faker.seed(seed);

  const firstNames: string[] = [];
  while (firstNames.length < PLAIN_FIRST_NAMES) {
    const name = faker.person.firstName();
    // The list has a few oddities such as "Jeanne d’Arc" that read as a full name.
    if (!/\s/.test(name)) firstNames.push(name);
  }
  const compoundFirstNamesFrom = firstNames.length;
  firstNames.push(...COMPOUND_FIRST_NAMES);

  const lastNames: string[] = [];
  for (let i = 0; i < PLAIN_LAST_NAMES; i += 1) {
    lastNames.push(capitalizeWords(faker.person.lastName()));
  }
  const doubleLastNamesFrom = lastNames.length;
  while (lastNames.length < doubleLastNamesFrom + DOUBLE_LAST_NAMES) {
    const first = capitalizeWords(faker.person.lastName());
    const second = capitalizeWords(faker.person.lastName());
    if (first !== second) lastNames.push(`${first}-${second}`);
  }
  const particleLastNamesFrom = lastNames.length;
  lastNames.push(...PARTICLE_LAST_NAMES);

  const clients = new Set<string>();
  // Bounded: the name space is finite, and a pool a little short of CLIENTS is fine.
  for (let attempt = 0; clients.size < CLIENTS && attempt < CLIENTS * 20; attempt += 1) {
    if (faker.datatype.boolean({ probability: 0.5 })) {
      // Not capitalised: faker's "X et Y" would become "X Et Y".
      clients.add(faker.company.name());
    } else {
      const pattern = faker.helpers.arrayElement(CLIENT_NAME_PATTERNS);
      clients.add(pattern(capitalizeWords(faker.person.lastName()), faker.location.city()));
    }
  }
  const clientNames = [...clients];

  return {
    firstNames: firstNames.map(escapeCopyText),
    firstNameEmailSlugs: firstNames.map(emailSlug),
    compoundFirstNamesFrom,
    lastNames: lastNames.map(escapeCopyText),
    lastNameEmailSlugs: lastNames.map(emailSlug),
    lastNameFileSlugs: lastNames.map(fileSlug),
    doubleLastNamesFrom,
    particleLastNamesFrom,
    clients: clientNames.map(escapeCopyText),
    clientFileSlugs: clientNames.map((name) => fileSlug(name.replaceAll(' ', '_'))),
  };
}

/**
 * What every later table needs to know about each consultant, as typed
 * arrays: about 20 bytes per consultant, so a million cost 20 MB rather than a
 * million row objects. Index `i` is consultant id `i + 1`.
 */
export interface ConsultantPlan {
  count: number;
  practice: Uint8Array;
  grade: Uint8Array;
  dailyRate: Uint16Array;
  availability: Uint8Array;
  firstName: Uint16Array;
  lastName: Uint16Array;
  /** Hire date, stored as `created_at`, in ms since the epoch. */
  createdAtMs: Float64Array;
  /** Share of the missions each consultant gets: days of tenure within the mission window. */
  missionWeight: Uint16Array;
  missionWeightTotal: number;
  onMissionCount: number;
}

export interface PlanOptions {
  consultants: number;
  missions: number;
  practices: number;
  seed: number;
  referenceMs: number;
}

/** Missions go back at most this far from the reference date. */
export const MISSION_HISTORY_DAYS = 4 * 365;

/** Tenure ranges in years by grade: a partner has been around longer than a junior. */
const TENURE_YEARS: readonly [number, number][] = [
  [0.05, 2],
  [0.5, 4],
  [1.5, 6],
  [3, 8],
  [4, 8],
  [5, 8],
];

/** Decides practice, grade, rate, availability, names and hire date of every consultant. */
export function planConsultants(options: PlanOptions, pools: NamePools): ConsultantPlan {
  const { consultants: count } = options;
  const random = new Random(options.seed, 'consultant-plan');
  const practiceWeights = cumulativeWeights(
    PRACTICES.slice(0, options.practices).map((practice) => practice.weight),
  );
  const gradeWeights = cumulativeWeights(GRADE_PROFILES.map((grade) => grade.weight));
  const referenceDay = Math.floor(options.referenceMs / DAY_MS);

  // About 70 % are on a mission, but each of them needs an ACTIVE mission of
  // their own: with fewer missions than that, fewer consultants are staffed.
  const onMissionShare = count === 0 ? 0 : Math.min(0.7, options.missions / count);
  const availableShare = ((1 - onMissionShare) * 2) / 3;

  const plan: ConsultantPlan = {
    count,
    practice: new Uint8Array(count),
    grade: new Uint8Array(count),
    dailyRate: new Uint16Array(count),
    availability: new Uint8Array(count),
    firstName: new Uint16Array(count),
    lastName: new Uint16Array(count),
    createdAtMs: new Float64Array(count),
    missionWeight: new Uint16Array(count),
    missionWeightTotal: 0,
    onMissionCount: 0,
  };
  const plainFirstNames = pools.compoundFirstNamesFrom;
  const compoundFirstNames = pools.firstNames.length - plainFirstNames;
  const doubleLastNames = pools.particleLastNamesFrom - pools.doubleLastNamesFrom;
  const particleLastNames = pools.lastNames.length - pools.particleLastNamesFrom;

  for (let i = 0; i < count; i += 1) {
    const practice = random.weighted(practiceWeights);
    const grade = random.weighted(gradeWeights);
    const profile = GRADE_PROFILES[grade] as (typeof GRADE_PROFILES)[number];
    const practiceProfile = PRACTICES[practice] as (typeof PRACTICES)[number];
    const rawRate = random.int(profile.minRate, profile.maxRate) * practiceProfile.rateFactor;
    plan.practice[i] = practice;
    plan.grade[i] = grade;
    plan.dailyRate[i] = Math.min(MAX_DAILY_RATE, Math.round(rawRate / 10) * 10);

    const roll = random.next();
    let availability = AVAILABLE;
    if (roll < onMissionShare && plan.onMissionCount < options.missions) availability = ON_MISSION;
    else if (roll >= onMissionShare + availableShare) availability = UNAVAILABLE;
    plan.availability[i] = availability;
    if (availability === ON_MISSION) plan.onMissionCount += 1;

    const firstRoll = random.next();
    plan.firstName[i] =
      firstRoll < 0.07
        ? plainFirstNames + random.index(compoundFirstNames)
        : random.index(plainFirstNames);
    const lastRoll = random.next();
    plan.lastName[i] =
      lastRoll < 0.04
        ? pools.particleLastNamesFrom + random.index(particleLastNames)
        : lastRoll < 0.08
          ? pools.doubleLastNamesFrom + random.index(doubleLastNames)
          : random.index(pools.doubleLastNamesFrom);

    const [minYears, maxYears] = TENURE_YEARS[grade] as [number, number];
    // At least two weeks, so even the newest hire has room for a mission.
    const tenureDays = Math.max(
      14,
      Math.round((minYears + random.next() * (maxYears - minYears)) * 365),
    );
    const createdAtMs =
      (referenceDay - tenureDays) * DAY_MS +
      random.int(7 * 3600, 19 * 3600) * 1000 +
      random.int(0, 999);
    plan.createdAtMs[i] = createdAtMs;
    const weight = Math.min(tenureDays, MISSION_HISTORY_DAYS) + 60;
    plan.missionWeight[i] = weight;
    plan.missionWeightTotal += weight;
  }
  return plan;
}
