/** Formatting: one markdown table of every figure, each target with its verdict. */

export interface Row {
  id: string;
  figure: string;
  measured: string;
  target?: string;
  /** true met, false not met, null not judged (no target, or nothing measured) */
  met?: boolean | null;
}

export const fmt = (value: number | null | undefined, digits = 0): string => {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};

export const ratio = (a: number | null | undefined, b: number | null | undefined): number =>
  a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? Number.NaN : a / b;

export const verdict = (met: boolean | null | undefined): string => (met === true ? 'met' : met === false ? '**not met**' : '');

export function table(rows: readonly Row[]): string {
  const escape = (s: string) => s.replaceAll('|', '\\|');
  const lines = ['| # | figure | measured | target | verdict |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.id} | ${escape(r.figure)} | ${escape(r.measured)} | ${escape(r.target ?? '')} | ${verdict(r.met)} |`);
  return lines.join('\n');
}
