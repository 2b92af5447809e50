/**
 * The independent test oracle: WeChat Pay v2 signing and flat XML, written from WeChat's public
 * documentation and sharing no code with the Worker (src/ signs with spark-md5 and Web Crypto and
 * has its own XML reader) or with the simulator (sim/), so neither is ever checked against itself.
 *
 * It runs in Node (test/sim, test/e2e) and inside workerd (test/integration, where node:crypto comes
 * from nodejs_compat; test/integration/node-crypto.d.ts types the functions used here). Keep it to
 * node:crypto's hashes and AES-256-ECB and Web-standard APIs.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from "node:crypto";

export type SignType = "MD5" | "HMAC-SHA256";

/**
 * The official v2 sign (pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=4_3): every non-empty
 * field except `sign`, in ASCII key order, as `k=v` joined by `&`, then `&key=<API key>`; MD5, or
 * HMAC-SHA256 keyed with the API key; upper-case hex.
 */
export function signWechat(fields: Record<string, string | undefined>, key: string, type: SignType = "MD5"): string {
  const text =
    Object.keys(fields)
      .filter((k) => k !== "sign" && fields[k] !== "" && fields[k] !== undefined)
      .sort()
      .map((k) => `${k}=${fields[k]}`)
      .join("&") + `&key=${key}`;
  const digest = type === "HMAC-SHA256" ? createHmac("sha256", key).update(text, "utf8") : createHash("md5").update(text, "utf8");
  return digest.digest("hex").toUpperCase();
}

/** Flat `<xml>` with every value in CDATA, in the given field order. */
export function toXml(fields: Record<string, string>): string {
  return `<xml>${Object.entries(fields).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join("")}</xml>`;
}

/** `fields` plus their `sign`, as flat `<xml>` (what WeChat sends, or what a merchant sends WeChat). */
export function signedXml(fields: Record<string, string>, key: string, type: SignType = "MD5"): string {
  return toXml({ ...fields, sign: signWechat(fields, key, type) });
}

/**
 * A lenient flat-XML reader for replies and notifications: every `<name>text</name>` or
 * `<name><![CDATA[text]]></name>` becomes a field. It checks nothing (the code under test must).
 */
export function parseXml(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<([A-Za-z0-9_]+)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>/g)) out[m[1] as string] = (m[2] ?? m[3]) as string;
  return out;
}

/** The value of one field of a flat XML document (CDATA or plain), or undefined. */
export function xmlField(xml: string, name: string): string | undefined {
  const fields = parseXml(xml);
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** The refund notification's AES key: the lowercase hex MD5 of the API key, as 32 bytes of text. */
const reqInfoKey = (apiKey: string) => new TextEncoder().encode(createHash("md5").update(apiKey, "utf8").digest("hex"));

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * A refund notification's `req_info` (pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16):
 * base64 of AES-256-ECB with PKCS#7 padding, keyed with the MD5 hex of the API key.
 */
export function encryptReqInfo(plaintext: string, apiKey: string): string {
  const cipher = createCipheriv("aes-256-ecb", reqInfoKey(apiKey), null);
  return toBase64(concat(cipher.update(new TextEncoder().encode(plaintext)), cipher.final()));
}

/** The plaintext of a `req_info`, padding bytes kept (so block offsets stay visible to a test). */
export function decryptReqInfoBlocks(reqInfo: string, apiKey: string): string {
  const decipher = createDecipheriv("aes-256-ecb", reqInfoKey(apiKey), null).setAutoPadding(false);
  return new TextDecoder().decode(concat(decipher.update(fromBase64(reqInfo)), decipher.final()));
}

/** The decrypted `req_info` plaintext without its PKCS#7 padding. */
export function decryptReqInfo(reqInfo: string, apiKey: string): string {
  const padded = decryptReqInfoBlocks(reqInfo, apiKey);
  return padded.slice(0, padded.length - padded.charCodeAt(padded.length - 1));
}
