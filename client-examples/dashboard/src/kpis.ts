import { byId, element, format } from './dom.js';
import type { DashboardStats } from './queries.js';

interface Kpi {
  key: string;
  label: string;
  value: (stats: DashboardStats) => number | null;
  show: (value: number | null) => string;
}

const KPIS: Kpi[] = [
  {
    key: 'consultants',
    label: 'Consultants',
    value: (s) => s.consultants?.total ?? null,
    show: (v) => format.integer(v ?? 0),
  },
  {
    key: 'available',
    label: 'Available',
    value: (s) => s.consultants?.available ?? null,
    show: (v) => format.integer(v ?? 0),
  },
  {
    key: 'on-mission',
    label: 'On mission',
    value: (s) => s.consultants?.onMission ?? null,
    show: (v) => format.integer(v ?? 0),
  },
  {
    key: 'utilization',
    label: 'Utilization',
    value: (s) => s.consultants?.utilizationRate ?? null,
    show: (v) => format.percent(v ?? 0),
  },
  {
    key: 'active-missions',
    label: 'Active missions',
    value: (s) => s.missions?.active ?? null,
    show: (v) => format.integer(v ?? 0),
  },
  {
    key: 'average-daily-rate',
    label: 'Average daily rate',
    value: (s) => s.missions?.averageDailyRate ?? null,
    show: format.euros,
  },
];

/**
 * Builds the KPI tiles once and returns the function that updates them.
 * Each value also sits unformatted in `data-value`, for scripts and tests.
 */
export function createKpiTiles(): (stats: DashboardStats) => void {
  const container = byId('kpis');
  const values = new Map<string, HTMLElement>();
  for (const kpi of KPIS) {
    const value = element('span', { className: 'kpi-value', text: '…' });
    values.set(kpi.key, value);
    container.append(
      element('div', { className: 'kpi', data: { kpi: kpi.key } }, [
        element('span', { className: 'kpi-label', text: kpi.label }),
        value,
      ]),
    );
  }
  const version = byId('stats-version');
  const pushedAt = byId('stats-pushed-at');

  return (stats) => {
    for (const kpi of KPIS) {
      const target = values.get(kpi.key);
      if (!target) continue;
      const value = kpi.value(stats);
      const text = kpi.show(value);
      if (target.textContent !== text) {
        target.textContent = text;
        // Restarting the animation needs a reflow between removing and adding the class.
        target.classList.remove('changed');
        void target.offsetWidth;
        target.classList.add('changed');
      }
      target.dataset.value = value === null ? '' : String(value);
    }
    version.textContent = stats.version ?? '';
    pushedAt.textContent = format.time(new Date());
    pushedAt.title = stats.computedAt
      ? `computed by the server at ${new Date(stats.computedAt).toLocaleString('en-GB')}`
      : '';
  };
}
