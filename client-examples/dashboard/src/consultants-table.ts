import type { Api } from './api.js';
import { byId, element, format } from './dom.js';
import {
  type Availability,
  CONSULTANTS_PAGE,
  type ConsultantRow,
  type ConsultantsConnection,
  PRACTICES,
  type Practice,
} from './queries.js';

const PAGE_SIZE = 10;
const SEARCH_DELAY_MS = 250;

const AVAILABILITY_LABELS: Record<Availability, string> = {
  AVAILABLE: 'Available',
  ON_MISSION: 'On mission',
  UNAVAILABLE: 'Unavailable',
};

/** A keyset window: forward from a cursor, or backward from one (Relay's first/after, last/before). */
type PageWindow = { first: number; after?: string } | { last: number; before: string };

export interface ConsultantsTable {
  /** Loads the practices for the filter, then the first page. */
  start(): Promise<void>;
  /** Reloads the page on screen (same window, same filters), e.g. after the data changed. */
  refresh(): Promise<void>;
}

/** An option of the availability filter: one of the schema's values, or '' for any. */
function isAvailability(value: string): value is Availability {
  return Object.hasOwn(AVAILABILITY_LABELS, value);
}

function titleCase(value: string): string {
  return value.charAt(0) + value.slice(1).toLowerCase();
}

function renderRow(consultant: ConsultantRow): HTMLTableRowElement {
  return element('tr', { data: { id: consultant.id } }, [
    // Every field is nullable in the schema (a failing resolver nulls only its own field).
    element('td', { className: 'name' }, [
      element('span', { className: 'full-name', text: consultant.fullName ?? '' }),
      element('span', { className: 'email', text: consultant.email ?? '' }),
    ]),
    element('td', { className: 'practice', text: consultant.practice?.name ?? '–' }),
    element('td', {
      className: 'grade',
      text: consultant.grade ? titleCase(consultant.grade) : '',
    }),
    element(
      'td',
      { className: 'availability' },
      consultant.availability
        ? [
            element('span', {
              className: `badge ${consultant.availability.toLowerCase()}`,
              text: AVAILABILITY_LABELS[consultant.availability],
            }),
          ]
        : [],
    ),
    element('td', { className: 'rate number', text: format.euros(consultant.dailyRate) }),
    element('td', { className: 'mission', text: consultant.currentMission?.client ?? '' }),
  ]);
}

/**
 * The consultants table: cursor pagination (next/previous), practice and
 * availability filters and a search box, all queries over HTTP. Responses that
 * arrive after a newer request was sent are dropped, so fast clicking or
 * typing never shows an older page.
 */
export function createConsultantsTable(api: Api): ConsultantsTable {
  const body = byId<HTMLTableSectionElement>('consultants-rows');
  const practiceSelect = byId<HTMLSelectElement>('filter-practice');
  const availabilitySelect = byId<HTMLSelectElement>('filter-availability');
  const searchInput = byId<HTMLInputElement>('filter-search');
  const previousButton = byId<HTMLButtonElement>('page-previous');
  const nextButton = byId<HTMLButtonElement>('page-next');
  const pageLabel = byId('page-label');
  const status = byId('table-status');

  let pageWindow: PageWindow = { first: PAGE_SIZE };
  let pageNumber = 1;
  let pageInfo: ConsultantsConnection['pageInfo'] | undefined;
  let latestRequest = 0;

  function filter() {
    const search = searchInput.value.trim();
    return {
      practiceIds: practiceSelect.value ? [practiceSelect.value] : undefined,
      availability: isAvailability(availabilitySelect.value)
        ? [availabilitySelect.value]
        : undefined,
      search: search || undefined,
    };
  }

  async function load(): Promise<void> {
    const request = ++latestRequest;
    status.textContent = 'Loading…';
    previousButton.disabled = true;
    nextButton.disabled = true;
    let page: ConsultantsConnection | null;
    try {
      ({ consultants: page } = await api.query(CONSULTANTS_PAGE, {
        ...pageWindow,
        filter: filter(),
      }));
      if (!page) throw new Error('the API returned no consultants');
    } catch (error) {
      if (request !== latestRequest) return;
      status.textContent = `Could not load consultants: ${(error as Error).message}`;
      // Let the user try again from where they were.
      previousButton.disabled = !pageInfo?.hasPreviousPage;
      nextButton.disabled = !pageInfo?.hasNextPage;
      return;
    }
    if (request !== latestRequest) return;
    pageInfo = page.pageInfo;
    body.replaceChildren(...page.edges.map((edge) => renderRow(edge.node)));
    const firstRow = (pageNumber - 1) * PAGE_SIZE + 1;
    pageLabel.textContent =
      page.edges.length === 0
        ? 'No consultant matches'
        : `${format.integer(firstRow)}–${format.integer(firstRow + page.edges.length - 1)} of ${format.integer(page.totalCount ?? 0)}`;
    pageLabel.dataset.page = String(pageNumber);
    pageLabel.dataset.total = String(page.totalCount);
    previousButton.disabled = !pageInfo.hasPreviousPage;
    nextButton.disabled = !pageInfo.hasNextPage;
    status.textContent = '';
  }

  function firstPage(): Promise<void> {
    pageWindow = { first: PAGE_SIZE };
    pageNumber = 1;
    return load();
  }

  nextButton.addEventListener('click', () => {
    if (!pageInfo?.hasNextPage || !pageInfo.endCursor) return;
    pageWindow = { first: PAGE_SIZE, after: pageInfo.endCursor };
    pageNumber += 1;
    void load();
  });
  previousButton.addEventListener('click', () => {
    if (!pageInfo?.hasPreviousPage || !pageInfo.startCursor) return;
    pageWindow = { last: PAGE_SIZE, before: pageInfo.startCursor };
    pageNumber = Math.max(1, pageNumber - 1);
    void load();
  });
  practiceSelect.addEventListener('change', () => void firstPage());
  availabilitySelect.addEventListener('change', () => void firstPage());
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  searchInput.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void firstPage(), SEARCH_DELAY_MS);
  });

  let practicesLoaded: Promise<void> | undefined;
  /** Fills the practice filter once; a failure (the API is down) is retried on the next refresh. */
  function loadPractices(): Promise<void> {
    practicesLoaded ??= api.query(PRACTICES, {}).then(
      ({ practices }) => {
        practiceSelect.append(
          ...(practices ?? []).map((practice: Practice) => {
            const option = element('option', { text: practice.name ?? '' });
            option.value = practice.id;
            return option;
          }),
        );
      },
      (error: unknown) => {
        practicesLoaded = undefined;
        status.textContent = `Could not load practices: ${(error as Error).message}`;
      },
    );
    return practicesLoaded;
  }

  return {
    async start() {
      await loadPractices();
      await firstPage();
    },
    async refresh() {
      await loadPractices();
      await load();
    },
  };
}
