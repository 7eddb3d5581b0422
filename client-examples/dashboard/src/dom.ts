/** The few DOM helpers the page needs; text always goes through textContent, never HTML. */

/** An element of index.html; a missing one is a bug in the page, so it throws. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: { className?: string; text?: string; data?: Record<string, string> } = {},
  children: Node[] = [],
): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  if (options.className) created.className = options.className;
  if (options.text !== undefined) created.textContent = options.text;
  for (const [key, value] of Object.entries(options.data ?? {})) created.dataset[key] = value;
  created.append(...children);
  return created;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svgElement<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number> = {},
): SVGElementTagNameMap[K] {
  const created = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) created.setAttribute(name, String(value));
  return created;
}

const integer = new Intl.NumberFormat('en');
const euros = new Intl.NumberFormat('en', {
  style: 'currency',
  currency: 'EUR',
  maximumFractionDigits: 0,
});
const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });

export const format = {
  integer: (value: number) => integer.format(value),
  euros: (value: number | null) => (value === null ? '–' : euros.format(value)),
  percent: (value: number) => percent.format(value),
  time: (date: Date) => date.toLocaleTimeString('en-GB'),
};
