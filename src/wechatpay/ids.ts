/**
 * Random identifiers for the v2 protocol: nonce_str, out_trade_no, out_refund_no. All randomness
 * comes from crypto.getRandomValues; Math.random is never used.
 */
import { beijingTimestamp } from "./time";

const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Largest multiple of 62 that fits in a byte: bytes at or above it are discarded (no modulo bias). */
const LIMIT = 256 - (256 % ALPHANUMERIC.length); // 248

/** `length` characters of [0-9A-Za-z], uniformly distributed. */
function randomAlphanumeric(length: number): string {
  if (!Number.isInteger(length) || length < 1 || length > 1024) throw new RangeError("invalid length");
  let out = "";
  const buf = new Uint8Array(Math.max(16, length * 2));
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      if (b >= LIMIT) continue; // rejection sampling
      out += ALPHANUMERIC[b % ALPHANUMERIC.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A nonce_str: 32 alphanumerics by default (WeChat refuses more than 32). */
export function nonceStr(length = 32): string {
  return randomAlphanumeric(length);
}

/**
 * A new out_trade_no: Beijing `yyyyMMddHHmmss` + 12 random alphanumerics (26 chars, within the
 * 32-char limit and charset). The time prefix makes numbers sort roughly by creation and helps
 * humans find an order in WeChat's merchant platform; 62^12 random suffixes make collisions moot.
 */
export function newOutTradeNo(now: Date = new Date()): string {
  return `${beijingTimestamp(now)}${randomAlphanumeric(12)}`;
}

/** A new out_refund_no: `R` + Beijing `yyyyMMddHHmmss` + 12 random alphanumerics (27 chars, limit 64). */
export function newOutRefundNo(now: Date = new Date()): string {
  return `R${beijingTimestamp(now)}${randomAlphanumeric(12)}`;
}

/**
 * Our own out_trade_no rule: 1..32 of [0-9A-Za-z_-]. Stricter than WeChat's charset (which also has
 * `|`, `*`, sometimes `@`) so the value is safe in URLs and logs.
 */
export function isValidOutTradeNo(s: string): boolean {
  return typeof s === "string" && /^[0-9A-Za-z_-]{1,32}$/.test(s);
}
