/**
 * Beijing time (UTC+8, no daylight saving) formatting and parsing. WeChat's time_start, time_expire,
 * time_end, bill dates and refund success_time are Beijing wall-clock times whatever the server's
 * zone (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1, time_start/time_expire: GMT+8);
 * everything here works on UTC fields shifted by +8 h, so the machine's time zone never matters.
 */

const OFFSET_MS = 8 * 60 * 60 * 1000;

const pad = (n: number, width = 2): string => n.toString().padStart(width, "0");

/** The Beijing wall-clock fields of an instant. */
function fields(date: Date): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const t = date.getTime();
  if (!Number.isFinite(t)) throw new RangeError("invalid date");
  const b = new Date(t + OFFSET_MS);
  return {
    y: b.getUTCFullYear(),
    mo: b.getUTCMonth() + 1,
    d: b.getUTCDate(),
    h: b.getUTCHours(),
    mi: b.getUTCMinutes(),
    s: b.getUTCSeconds(),
  };
}

/** `yyyyMMddHHmmss` in Beijing time (time_start, time_expire, time_end). */
export function beijingTimestamp(date: Date): string {
  const f = fields(date);
  return `${pad(f.y, 4)}${pad(f.mo)}${pad(f.d)}${pad(f.h)}${pad(f.mi)}${pad(f.s)}`;
}

/** RFC 3339 in Beijing time with its offset, `yyyy-MM-ddTHH:mm:ss+08:00` (upload_shipping_info's upload_time). */
export function beijingRfc3339(date: Date): string {
  const f = fields(date);
  return `${pad(f.y, 4)}-${pad(f.mo)}-${pad(f.d)}T${pad(f.h)}:${pad(f.mi)}:${pad(f.s)}+08:00`;
}

/** `yyyyMMdd` in Beijing time (downloadbill's bill_date). */
export function beijingDate(date: Date): string {
  const f = fields(date);
  return `${pad(f.y, 4)}${pad(f.mo)}${pad(f.d)}`;
}

/**
 * Builds the instant for Beijing wall-clock fields, refusing impossible dates (Feb 30, hour 24, ...)
 * by checking that the fields survive a round trip instead of letting Date roll them over.
 */
function fromBeijing(y: number, mo: number, d: number, h: number, mi: number, s: number): Date {
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s) - OFFSET_MS);
  const f = fields(date);
  if (f.y !== y || f.mo !== mo || f.d !== d || f.h !== h || f.mi !== mi || f.s !== s) {
    throw new RangeError("invalid Beijing date/time");
  }
  return date;
}

/** Parses strict `yyyyMMddHHmmss` Beijing time (14 digits, a real calendar time); else RangeError. */
export function parseBeijingTimestamp(s: string): Date {
  const m = typeof s === "string" ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s) : null;
  if (!m) throw new RangeError("expected yyyyMMddHHmmss");
  return fromBeijing(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** Parses strict `yyyyMMdd` as Beijing midnight (an admin-supplied bill date); else RangeError. */
export function parseBeijingDate(s: string): Date {
  const m = typeof s === "string" ? /^(\d{4})(\d{2})(\d{2})$/.exec(s) : null;
  if (!m) throw new RangeError("expected yyyyMMdd");
  return fromBeijing(Number(m[1]), Number(m[2]), Number(m[3]), 0, 0, 0);
}

/** Parses strict `yyyy-MM-dd HH:mm:ss` Beijing time (refund success_time, bill rows); else RangeError. */
export function parseBeijingDateTime(s: string): Date {
  const m = typeof s === "string" ? /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(s) : null;
  if (!m) throw new RangeError("expected yyyy-MM-dd HH:mm:ss");
  return fromBeijing(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * Parses a strict RFC 3339 date-time with any offset, as WeChat Pay v3 sends them
 * (`2025-12-02T16:00:00+08:00`, with or without fractional seconds, or `Z`); else RangeError.
 * Impossible dates are refused, not rolled over.
 */
export function parseRfc3339(s: string): Date {
  const m = typeof s === "string"
    ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:(Z)|([+-])(\d{2}):(\d{2}))$/.exec(s)
    : null;
  if (!m) throw new RangeError("expected an RFC 3339 date-time");
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const offsetH = m[8] ? 0 : Number(m[10]);
  const offsetM = m[8] ? 0 : Number(m[11]);
  if (offsetH > 23 || offsetM > 59) throw new RangeError("invalid RFC 3339 offset");
  const wall = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  if (wall.getUTCFullYear() !== y || wall.getUTCMonth() !== mo - 1 || wall.getUTCDate() !== d || wall.getUTCHours() !== h || wall.getUTCMinutes() !== mi || wall.getUTCSeconds() !== sec) {
    throw new RangeError("invalid RFC 3339 date-time");
  }
  const millis = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const sign = m[9] === "-" ? -1 : 1;
  return new Date(wall.getTime() + millis - sign * (offsetH * 60 + offsetM) * 60_000);
}
