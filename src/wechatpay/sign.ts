/**
 * WeChat Pay API v2 signatures (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3): MD5 or HMAC-SHA256 over the canonical
 * `k=v&...&key=KEY` string, uppercase hex. Pure and runtime-neutral: spark-md5 for MD5 (Web Crypto
 * has no MD5) and `crypto.subtle` for HMAC, so the same code runs in workerd and Node.
 */
import SparkMD5 from "spark-md5";

/** The two v2 signature algorithms. Always pinned by configuration, never chosen by a message. */
export type SignType = "MD5" | "HMAC-SHA256";

/** A flat v2 message: every value is the exact string sent or received (no numbers, no trimming). */
export type Fields = Record<string, string>;

const encoder = new TextEncoder();

/**
 * The string that gets hashed: every field except `sign`, empty values skipped, names in plain
 * code-unit order (ASCII order for WeChat's ASCII names), `name=value` joined by `&`, then `&key=KEY`.
 * Values are used byte-exact: WeChat signs what it sends, and any "helpful" trimming or number
 * formatting here would break verification of legitimate messages or accept altered ones.
 * Unknown fields are included on purpose: WeChat adds fields over time and signs them all.
 */
export function canonicalString(fields: Fields, key: string): string {
  const names = Object.keys(fields)
    .filter((name) => {
      if (name === "sign") return false;
      const value: unknown = fields[name];
      // Runtime guard: callers are typed, but a null/undefined slipping through must not become "null".
      return typeof value === "string" && value !== "";
    })
    .sort(); // default sort compares UTF-16 code units, which is ASCII order for ASCII names
  const pairs = names.map((name) => `${name}=${fields[name]}`);
  pairs.push(`key=${key}`);
  return pairs.join("&");
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Lowercase hex of a byte array. */
function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX_BYTE[b];
  return out;
}

/**
 * MD5 over the UTF-8 bytes of `text`, lowercase hex. SparkMD5.hash() would treat the JS string as
 * one byte per code unit unless told otherwise, which silently breaks CJK values; hashing the
 * TextEncoder bytes through SparkMD5.ArrayBuffer makes the UTF-8 step explicit.
 */
export function md5Hex(text: string): string {
  const bytes = encoder.encode(text);
  // SparkMD5 wants an ArrayBuffer: copy so a view over a larger buffer cannot leak extra bytes in.
  return SparkMD5.ArrayBuffer.hash(bytes.slice().buffer);
}

/**
 * HMAC keys imported once per isolate and reused: `importKey` costs more than the MAC of a whole
 * notification. Keyed by the API key itself; only the current and previous keys are ever used, and
 * the cap keeps a caller that passes many keys (tests) from growing it without bound.
 */
const hmacKeys = new Map<string, Promise<CryptoKey>>();
const HMAC_KEY_CACHE_MAX = 8;

function hmacKey(key: string): Promise<CryptoKey> {
  let cached = hmacKeys.get(key);
  if (!cached) {
    if (hmacKeys.size >= HMAC_KEY_CACHE_MAX) hmacKeys.clear();
    cached = crypto.subtle.importKey("raw", encoder.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    // A failed import is not cached: the next call tries again.
    cached.catch(() => hmacKeys.delete(key));
    hmacKeys.set(key, cached);
  }
  return cached;
}

/** HMAC-SHA256 keyed with the API key's UTF-8 bytes, lowercase hex. */
async function hmacSha256Hex(key: string, text: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(key), encoder.encode(text));
  return hex(new Uint8Array(mac));
}

/**
 * Signs `fields` with `key` using `type`; returns uppercase hex (32 chars for MD5, 64 for HMAC).
 * The caller decides whether `sign_type` is one of the fields: when present it is signed like any
 * other field, exactly as WeChat does.
 */
export async function sign(fields: Fields, key: string, type: SignType): Promise<string> {
  const text = canonicalString(fields, key);
  if (type === "MD5") return md5Hex(text).toUpperCase();
  if (type === "HMAC-SHA256") return (await hmacSha256Hex(key, text)).toUpperCase();
  throw new TypeError("unsupported sign type");
}

/**
 * Constant-time string comparison for equal lengths: the loop always runs over the whole string and
 * accumulates differences, so timing does not reveal the length of the matching prefix. Different
 * lengths return false immediately (lengths are public: 32 or 64).
 */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const SIGN_LENGTH: Record<SignType, number> = { MD5: 32, "HMAC-SHA256": 64 };
const HEX = /^[0-9A-Fa-f]+$/;

/**
 * Verifies the message's `sign` with the pinned algorithm against each key (current key first, then
 * previous keys during a rotation). Returns false, never throws, for a missing, empty, wrong-length
 * or non-hex sign, and for a message whose own `sign_type` field names a different algorithm than
 * the pinned one (an attacker must not be able to downgrade HMAC to MD5 by saying so). A lowercase
 * sign is accepted after uppercasing, as WeChat's own comparison is case-insensitive (peer SDKs such as WxJava accept it too).
 */
export async function verifySign(fields: Fields, keys: readonly string[], type: SignType): Promise<boolean> {
  try {
    const expectedLength = SIGN_LENGTH[type];
    if (expectedLength === undefined) return false;
    const given: unknown = fields.sign;
    if (typeof given !== "string" || given.length !== expectedLength || !HEX.test(given)) return false;
    const declared: unknown = fields.sign_type;
    // An empty sign_type is excluded from the signature like any empty field, so it declares nothing.
    if (declared !== undefined && declared !== "" && declared !== type) return false;
    const upper = given.toUpperCase();
    let ok = false;
    for (const key of keys) {
      if (typeof key !== "string" || key === "") continue; // an empty key would make forgery trivial
      const expected = await sign(fields, key, type);
      // No early exit: every configured key is tried, so timing does not say which key matched.
      if (timingSafeEqual(upper, expected)) ok = true;
    }
    return ok;
  } catch {
    return false;
  }
}
