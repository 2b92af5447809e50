// What the simulator's tests use to check it from the outside: the local account, an independent
// implementation of the official v2 signature (node:crypto, not the simulator's signer) and a
// minimal flat-XML reader/writer, so the simulator is never checked against its own code.
import { createHash, createHmac } from "node:crypto";

export const APPID = "wxd930ea5d5a258f4f";
export const MCH = "10000100";
export const KEY = "192006250b4c09247ec02edce69f6a2d";
export type T = "MD5" | "HMAC-SHA256";

/** The official algorithm (reference §1): sorted non-empty fields but `sign`, `&key=`, uppercase hex. */
export function officialSign(f: Record<string, string>, type: T = "MD5", key = KEY): string {
  const s = Object.keys(f).filter((k) => k !== "sign" && f[k] !== "").sort().map((k) => `${k}=${f[k]}`).join("&") + "&key=" + key;
  return (type === "MD5" ? createHash("md5").update(s, "utf8") : createHmac("sha256", key).update(s, "utf8")).digest("hex").toUpperCase();
}

/** Flat `<xml>` → fields (CDATA or plain text). */
export const parse = (xml: string) => {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<([A-Za-z0-9_]+)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>/g)) out[m[1]!] = (m[2] ?? m[3])!;
  return out;
};

/** Fields → flat `<xml>` with CDATA values. */
export const toXml = (f: Record<string, string>) => "<xml>" + Object.entries(f).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join("") + "</xml>";
