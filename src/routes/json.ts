/** Strict JSON input for /api and /admin: content type checked, body parsed once, clear 400s naming the field. */
import type { Context } from "hono";
import { ApiError, badRequest, notFound } from "../errors";
import { isValidOutTradeNo } from "../wechatpay/ids";

/** Bodies above this are refused with 413 before parsing (see app.ts bodyLimit). */
export const JSON_BODY_LIMIT = 16 * 1024;

export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw badRequest("body is not valid JSON", "INVALID_JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("body must be a JSON object");
  return body as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, field: string, maxBytes: number): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw badRequest(`${field} must be a string`);
  assertWechatText(field, value);
  if (new TextEncoder().encode(value).length > maxBytes) throw badRequest(`${field} must be at most ${maxBytes} bytes`);
  return value;
}

/**
 * Text that travels to WeChat (attach, product names that become `body`, refund reasons) and comes
 * back written into its daily bill: WeChat's XML cannot carry control characters (C0 including tab,
 * CR and LF, DEL, C1, and the non-characters U+FFFE/U+FFFF); a lone surrogate is not UTF-8 at all
 * (it is replaced on the way through D1 and the order can never be paid); and the bill writes such
 * fields unescaped with a backtick marking each field, so one backtick in a customer's text would
 * shift the columns of that bill row.
 */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/;
/** In a `u` regex a surrogate class matches only unpaired halves: pairs are one code point. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** Why `value` cannot be sent to WeChat, or null when it can. */
export function wechatTextProblem(value: string): string | null {
  if (CONTROL_CHARACTERS.test(value)) return "must not contain control characters";
  if (LONE_SURROGATE.test(value)) return "must be well-formed Unicode (no lone surrogates)";
  if (value.includes("`")) return "must not contain a backtick (`), WeChat's bill field marker";
  return null;
}

/** 400 naming `field` when {@link wechatTextProblem} finds one. */
export function assertWechatText(field: string, value: string): void {
  const problem = wechatTextProblem(value);
  if (problem) throw badRequest(`${field} ${problem}`);
}

/** An `:outTradeNo` path parameter; anything that cannot be one of ours is simply not found. */
export function outTradeNoParam(raw: string): string {
  if (!isValidOutTradeNo(raw)) throw notFound("order not found");
  return raw;
}

/** An optional `Idempotency-Key` header: 1 to 128 printable ASCII characters, else 400. */
export function idempotencyKeyHeader(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if (!/^[\x21-\x7e]{1,128}$/.test(raw)) throw badRequest("Idempotency-Key must be 1 to 128 printable ASCII characters");
  return raw;
}

/** `?limit=` within 1..max (default `fallback`). */
export function limitParam(raw: string | undefined, fallback = 20, max = 100): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw badRequest(`limit must be an integer from 1 to ${max}`);
  return Number(raw);
}

/** An order-list cursor: [created_at, out_trade_no] of the last row of the previous page. */
export function decodeOrderCursor(raw: string | undefined): { createdAt: number; outTradeNo: string } | null {
  const parts = decodeCursor(raw);
  if (!parts) return null;
  const [createdAt, outTradeNo] = parts;
  if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || typeof outTradeNo !== "string") {
    throw badRequest("cursor is invalid");
  }
  return { createdAt, outTradeNo };
}

/** Opaque keyset cursors: base64url of a JSON array. */
export function encodeCursor(parts: (string | number)[]): string {
  return btoa(JSON.stringify(parts)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(raw: string | undefined): unknown[] | null {
  if (raw === undefined || raw === "") return null;
  try {
    const parsed: unknown = JSON.parse(atob(raw.replace(/-/g, "+").replace(/_/g, "/")));
    if (Array.isArray(parsed)) return parsed;
  } catch {
    // fall through
  }
  throw badRequest("cursor is invalid");
}
