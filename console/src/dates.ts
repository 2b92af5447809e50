/** Dates in the console: WeChat's bills and the merchant's day are Beijing days (UTC+8, no DST). */

const BEIJING_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

/** Yesterday's Beijing date as YYYY-MM-DD (the default date of a bill reconciliation). */
export function beijingYesterday(now: Date = new Date()): string {
  return new Date(now.getTime() + BEIJING_OFFSET_MS - DAY_MS).toISOString().slice(0, 10);
}

/** YYYY-MM-DD (a date input's value) → yyyymmdd (the reconciliation path), or null when not a date. */
export function toBillDate(value: string): string | null {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value.replaceAll("-", "") : null;
}

/** An ISO time of the API shown in Beijing time, e.g. "2026-12-02 20:00:00"; "–" for null. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
}
