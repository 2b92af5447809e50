// Signing, verification and refund-notify encryption, as WeChat Pay v2 does them
// (pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=4_3 signing, chapter=7_7 paySign, chapter=9_16 req_info).
// Uses node:crypto only: the simulator is a test peer and must not share code with the Worker under test.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

export type SignType = "MD5" | "HMAC-SHA256";

export function isSignType(v: unknown): v is SignType {
  return v === "MD5" || v === "HMAC-SHA256";
}

/** stringSignTemp: every field except `sign`, empty values skipped, ASCII key order, raw values, `&key=`. */
export function stringToSign(fields: Record<string, string | undefined>, key: string): string {
  const names = Object.keys(fields)
    .filter((k) => k !== "sign" && fields[k] !== undefined && fields[k] !== "")
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((k) => `${k}=${fields[k]}`).join("&") + `&key=${key}`;
}

/** Upper-case hex MD5 or HMAC-SHA256 (HMAC key = the API key; message still ends with &key=). */
export function sign(fields: Record<string, string | undefined>, key: string, type: SignType = "MD5"): string {
  const s = stringToSign(fields, key);
  const h = type === "HMAC-SHA256" ? createHmac("sha256", key) : createHash("md5");
  return h.update(s, "utf8").digest("hex").toUpperCase();
}

/** Constant-time comparison of two sign strings (length mismatch → false, never throws). */
export function signEquals(expected: string, given: string, caseInsensitive = false): boolean {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(caseInsensitive ? given.toUpperCase() : given, "utf8");
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** Verify `fields.sign` with the given algorithm (WeChat does not let the message choose: the caller decides). */
export function verifySign(
  fields: Record<string, string | undefined>,
  key: string,
  type: SignType,
  opts: { caseInsensitive?: boolean } = {},
): boolean {
  const given = fields.sign;
  if (typeof given !== "string" || given === "") return false;
  return signEquals(sign(fields, key, type), given, opts.caseInsensitive ?? false);
}

/** The mini-program paySign (wx.requestPayment): over appId, timeStamp, nonceStr, package, signType. */
export function paySign(
  p: { appId: string; timeStamp: string; nonceStr: string; package: string; signType: SignType },
  key: string,
): string {
  return sign({ appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType }, key, p.signType);
}

export function md5Hex(s: string): string {
  return createHash("md5").update(s, "utf8").digest("hex");
}

/** key* = lowercase hex MD5 of the API key, used as-is as the 32-byte AES-256 key. */
export function refundAesKey(apiKey: string): Buffer {
  return Buffer.from(md5Hex(apiKey), "utf8");
}

/** req_info = base64(AES-256-ECB(plaintext, key*)) with PKCS#7 padding. ECB is deterministic. */
export function encryptReqInfo(plaintext: string, apiKey: string): string {
  const c = createCipheriv("aes-256-ecb", refundAesKey(apiKey), null);
  c.setAutoPadding(true);
  return Buffer.concat([c.update(plaintext, "utf8"), c.final()]).toString("base64");
}

export function decryptReqInfo(reqInfo: string, apiKey: string): string {
  const d = createDecipheriv("aes-256-ecb", refundAesKey(apiKey), null);
  d.setAutoPadding(true);
  return Buffer.concat([d.update(Buffer.from(reqInfo, "base64")), d.final()]).toString("utf8");
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function randomNonce(len = 16): string {
  let s = "";
  for (let i = 0; i < len; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

export function randomDigits(len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += String(randomInt(10));
  return s;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

export function randomBase64(bytes: number): string {
  return randomBytes(bytes).toString("base64");
}

/** Deterministic 27-character url-safe tag from a string (used for openid/unionid). */
export function stableTag(input: string, len = 27): string {
  return createHash("sha256").update(input, "utf8").digest("base64url").slice(0, len);
}
