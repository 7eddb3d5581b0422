import { Resvg } from '@resvg/resvg-js';

export interface Series {
  name: string;
  points: [number, number][];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  /** Fixed x ticks (value, label); default: decades on a log axis, five steps on a linear one. */
  xTicks?: { value: number; label: string }[];
  series: Series[];
  footnote?: string;
}

const WIDTH = 900;
const HEIGHT = 520;
const MARGIN = { left: 80, right: 30, top: 60, bottom: 90 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceLabel(value: number): string {
  if (value >= 1_000_000) return `${value / 1_000_000}M`;
  if (value >= 1_000) return `${value / 1_000}k`;
  if (value >= 1) return String(Number(value.toPrecision(3)));
  return String(Number(value.toPrecision(2)));
}

function axisTicks(min: number, max: number, log: boolean): number[] {
  if (log) {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e += 1)
      ticks.push(10 ** e);
    return ticks;
  }
  // A round step (1, 2 or 5 × 10^k) giving about five intervals.
  const raw = (max - min) / 5 || 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step / 1e6; value += step)
    ticks.push(value);
  return ticks;
}

/** Renders a line chart as SVG text: axes, ticks, one polyline and marker set per series, a legend. */
export function lineChartSvg(chart: LineChart): string {
  const all = chart.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const positive = (values: number[], log: boolean | undefined) =>
    log ? values.filter((v) => v > 0) : values;
  let xMin = Math.min(...positive(xs, chart.xLog));
  let xMax = Math.max(...positive(xs, chart.xLog));
  let yMin = chart.yLog ? Math.min(...positive(ys, true)) : 0;
  let yMax = Math.max(...ys);
  if (chart.xTicks?.length) {
    xMin = Math.min(xMin, ...chart.xTicks.map((t) => t.value));
    xMax = Math.max(xMax, ...chart.xTicks.map((t) => t.value));
  }
  if (chart.yLog) {
    yMin = 10 ** Math.floor(Number(Math.log10(yMin).toFixed(6)));
    yMax = 10 ** Math.ceil(Number(Math.log10(yMax).toFixed(6)));
  } else {
    yMax = yMax * 1.1 || 1;
  }
  if (chart.xLog) {
    // Rounded first: 1 / (1 - 0.999) is a hair above 1000 in floating point.
    xMin = 10 ** Math.floor(Number(Math.log10(xMin).toFixed(6)));
    xMax = 10 ** Math.ceil(Number(Math.log10(xMax).toFixed(6)));
  }
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const scale = (value: number, min: number, max: number, log: boolean | undefined) =>
    log
      ? (Math.log10(value) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))
      : (value - min) / (max - min || 1);
  const px = (x: number) => MARGIN.left + scale(x, xMin, xMax, chart.xLog) * plotW;
  const py = (y: number) => MARGIN.top + plotH - scale(y, yMin, yMax, chart.yLog) * plotH;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="30" font-size="18" text-anchor="middle">${escapeXml(chart.title)}</text>`,
  );
  const xTicks =
    chart.xTicks ??
    axisTicks(xMin, xMax, chart.xLog === true).map((value) => ({ value, label: niceLabel(value) }));
  for (const tick of xTicks) {
    const x = px(tick.value);
    parts.push(
      `<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${MARGIN.top + plotH + 20}" font-size="12" text-anchor="middle">${escapeXml(tick.label)}</text>`,
    );
  }
  for (const value of axisTicks(yMin, yMax, chart.yLog === true)) {
    const y = py(value);
    parts.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${y + 4}" font-size="12" text-anchor="end">${niceLabel(value)}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH + 45}" font-size="14" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(22 ${MARGIN.top + plotH / 2}) rotate(-90)" font-size="14" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length];
    const points = series.points.filter(
      ([x, y]) =>
        Number.isFinite(x) &&
        Number.isFinite(y) &&
        (!chart.xLog || x > 0) &&
        (!chart.yLog || y > 0),
    );
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      ...points.map(
        ([x, y]) =>
          `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`,
      ),
      `<rect x="${MARGIN.left + 12}" y="${MARGIN.top + 12 + index * 20}" width="14" height="4" fill="${colour}"/>`,
      `<text x="${MARGIN.left + 32}" y="${MARGIN.top + 18 + index * 20}" font-size="12">${escapeXml(series.name)}</text>`,
    );
  });
  if (chart.footnote) {
    parts.push(
      `<text x="${MARGIN.left}" y="${HEIGHT - 15}" font-size="11" fill="#555">${escapeXml(chart.footnote)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** SVG → PNG with resvg (system fonts for the labels). */
export function renderPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'width', value: WIDTH },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
