/** One row of bench/RESULTS.md and bench/results.json. */
export interface MetricResult {
  id: string;
  metric: string;
  /** Human-readable measured value. */
  value: string;
  target: string;
  /** `report`: the issue asks for the figure without a threshold. */
  verdict: 'pass' | 'miss' | 'report';
  conditions: string;
  /** What limits a miss, or how the figure was derived. */
  note?: string;
  /** The raw numbers behind `value`. */
  data: Record<string, unknown>;
}

export function verdict(ok: boolean): 'pass' | 'miss' {
  return ok ? 'pass' : 'miss';
}

export const fmtMs = (ms: number): string =>
  ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;

export const fmtRatio = (ratio: number): string => ratio.toFixed(2);

export const fmtCount = (n: number): string => Math.round(n).toLocaleString('en-US');
