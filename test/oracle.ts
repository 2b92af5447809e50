/**
 * The independent test oracle: WeChat Pay v2 signing and flat XML, written from WeChat's public
 * documentation and sharing no code with the Worker (src/ signs with spark-md5 and Web Crypto and
 * has its own XML reader) or with the simulator (sim/), so neither is ever checked against itself.
 *
 * It runs in Node (test/sim, test/e2e) and inside workerd (test/integration, where node:crypto comes
 * from nodejs_compat; test/integration/node-crypto.d.ts types the two functions used here). Keep it
 * to node:crypto's createHash/createHmac and Web-standard APIs.
 */
import { createHash, createHmac } from "node:crypto";

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
