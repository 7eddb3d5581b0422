/**
 * The live dashboard: KPI tiles and charts fed by the `statsChanged`
 * subscription (graphql-ws), and a consultants table queried over HTTP.
 * Served by the API at /dashboard; the bundle is built by the server with esbuild.
 */
import { type ConnectionState, createApi } from './api.js';
import { type BarRow, renderBarChart } from './charts.js';
import { createConsultantsTable } from './consultants-table.js';
import { byId } from './dom.js';
import { createKpiTiles } from './kpis.js';
import { type DashboardStats, STATS_CHANGED, TOP_SKILLS } from './queries.js';

/** At most one push per this many ms: enough for a human, gentle on a busy API. */
const MIN_PUSH_INTERVAL_MS = 250;

const indicator = byId('connection');
const subscriptionError = byId('subscription-error');
let state: ConnectionState = 'connecting';

const api = createApi({
  endpoint: new URL('/graphql', window.location.origin),
  onStateChange(next) {
    const recovered = next === 'live' && state !== 'live' && state !== 'connecting';
    state = next;
    indicator.dataset.state = next;
    indicator.textContent = next;
    // Whatever the table showed may be stale or an error from while the API was away.
    if (recovered) void table.refresh();
  },
});

const table = createConsultantsTable(api);
const updateKpis = createKpiTiles();
const practiceChart = byId('chart-practices');
const skillsChart = byId('chart-skills');
let lastVersion: string | undefined;

function practiceRows(stats: DashboardStats): BarRow[] {
  // Every field is nullable in the schema (a failing resolver nulls only its own field).
  return (stats.practices ?? []).map((practice) => ({
    label: practice.name ?? '?',
    segments: [
      { value: practice.onMission ?? 0, className: 'segment-on-mission', label: 'on mission' },
      { value: practice.available ?? 0, className: 'segment-available', label: 'available' },
      { value: practice.unavailable ?? 0, className: 'segment-unavailable', label: 'unavailable' },
    ],
  }));
}

function skillRows(stats: DashboardStats): BarRow[] {
  return (stats.topSkills ?? []).map((skill) => ({
    label: skill.name ?? '?',
    segments: [{ value: skill.consultants ?? 0, className: 'segment-skill', label: 'consultants' }],
  }));
}

function showStats(stats: DashboardStats): void {
  subscriptionError.textContent = '';
  updateKpis(stats);
  renderBarChart(practiceChart, practiceRows(stats));
  renderBarChart(skillsChart, skillRows(stats));
  // The first push after (re)subscribing repeats the current version: only a new one changes rows.
  if (lastVersion !== undefined && stats.version !== lastVersion) void table.refresh();
  lastVersion = stats.version ?? undefined;
}

api.subscribe({
  document: STATS_CHANGED,
  variables: { minIntervalMs: MIN_PUSH_INTERVAL_MS, topSkills: TOP_SKILLS },
  onData: ({ statsChanged }) => {
    if (statsChanged) showStats(statsChanged);
  },
  onError: (message) => {
    subscriptionError.textContent = `Live statistics interrupted: ${message}. Retrying…`;
  },
});
void table.start();
