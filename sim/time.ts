// Beijing time (UTC+8, no DST) helpers: WeChat's time_start/time_expire/time_end, bill dates and
// refund success_time are all Beijing wall-clock time whatever the server's zone.

const OFFSET_MS = 8 * 3600 * 1000;

function parts(ms: number) {
  const d = new Date(ms + OFFSET_MS);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return {
    y: p(d.getUTCFullYear(), 4),
    mo: p(d.getUTCMonth() + 1),
    d: p(d.getUTCDate()),
    h: p(d.getUTCHours()),
    mi: p(d.getUTCMinutes()),
    s: p(d.getUTCSeconds()),
  };
}

/** yyyyMMddHHmmss in Beijing time. */
export function beijingCompact(ms: number): string {
  const t = parts(ms);
  return `${t.y}${t.mo}${t.d}${t.h}${t.mi}${t.s}`;
}

/** yyyy-MM-dd HH:mm:ss in Beijing time (refund success_time, bill rows). */
export function beijingDashed(ms: number): string {
  const t = parts(ms);
  return `${t.y}-${t.mo}-${t.d} ${t.h}:${t.mi}:${t.s}`;
}

/** yyyyMMdd Beijing date (bill_date). */
export function beijingDate(ms: number): string {
  return beijingCompact(ms).slice(0, 8);
}

/** Parse yyyyMMddHHmmss (Beijing) to epoch ms; null when malformed or not a real calendar time. */
export function parseBeijingCompact(s: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, se);
  const back = new Date(utc);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return null;
  return utc - OFFSET_MS;
}

/** Is yyyyMMdd a real calendar date? */
export function isValidDate8(s: string): boolean {
  return /^\d{8}$/.test(s) && parseBeijingCompact(s + "000000") !== null;
}

/** yyyy-MM-ddTHH:mm:ss+08:00 (RFC 3339 in Beijing time, as API v3 writes success_time, create_time, …). */
export function beijingRfc3339(ms: number): string {
  const t = parts(ms);
  return `${t.y}-${t.mo}-${t.d}T${t.h}:${t.mi}:${t.s}+08:00`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Parse an RFC 3339 date-time with any offset (API v3 time_expire) to epoch ms; null when malformed or not a real time. */
export function parseRfc3339(s: string): number | null {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, se);
  const back = new Date(utc);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return null;
  const fraction = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const zone = m[8] as string;
  const offsetMin = zone === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  return utc + fraction - offsetMin * 60_000;
}
