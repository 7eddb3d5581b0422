import { format, svgElement } from './dom.js';

export interface BarSegment {
  value: number;
  /** A CSS class giving the segment its colour (see styles.css). */
  className: string;
  label: string;
}

export interface BarRow {
  label: string;
  segments: BarSegment[];
}

const ROW_HEIGHT = 28;
const BAR_HEIGHT = 18;
const LABEL_WIDTH = 170;
const TOTAL_WIDTH = 48;
const WIDTH = 640;

/**
 * Draws horizontal (optionally stacked) bars as plain SVG, replacing what the
 * container held: a few dozen elements per push, not worth a charting library.
 * Every segment has a `<title>` (the browser's tooltip) with its exact value.
 */
export function renderBarChart(container: Element, rows: BarRow[]): void {
  const totals = rows.map((row) => row.segments.reduce((sum, segment) => sum + segment.value, 0));
  const max = Math.max(1, ...totals);
  const barSpace = WIDTH - LABEL_WIDTH - TOTAL_WIDTH;
  const height = Math.max(ROW_HEIGHT, rows.length * ROW_HEIGHT);
  const svg = svgElement('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: 'img',
    class: 'bar-chart',
  });

  rows.forEach((row, index) => {
    const y = index * ROW_HEIGHT;
    const group = svgElement('g', { class: 'bar-row' });
    const label = svgElement('text', {
      x: LABEL_WIDTH - 8,
      y: y + ROW_HEIGHT / 2,
      class: 'bar-label',
      'text-anchor': 'end',
      'dominant-baseline': 'central',
    });
    label.textContent = row.label;
    group.append(label);

    let x = LABEL_WIDTH;
    for (const segment of row.segments) {
      const width = (segment.value / max) * barSpace;
      if (width <= 0) continue;
      const rect = svgElement('rect', {
        x,
        y: y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
        width,
        height: BAR_HEIGHT,
        class: segment.className,
      });
      const title = svgElement('title');
      title.textContent = `${row.label} — ${segment.label}: ${format.integer(segment.value)}`;
      rect.append(title);
      group.append(rect);
      x += width;
    }

    const total = svgElement('text', {
      x: x + 6,
      y: y + ROW_HEIGHT / 2,
      class: 'bar-total',
      'dominant-baseline': 'central',
    });
    total.textContent = format.integer(totals[index] ?? 0);
    group.append(total);
    svg.append(group);
  });

  container.replaceChildren(svg);
}
