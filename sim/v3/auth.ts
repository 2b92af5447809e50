// Checking an API v3 request's `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
// signature="…",timestamp="…",serial_no="…"` (five pairs in any order) the way WeChat does
// (https://pay.weixin.qq.com/docs/partner/development/interface-rules/signature-generation.html): format,
// scheme, merchant, a timestamp within 5 minutes, the merchant certificate serial, then the signature over
// METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n. Failures are 401 SIGN_ERROR with WeChat's messages; a
// signature that does not verify also gets `detail.sign_information`, the message as WeChat built it
// (https://wechatpay-api.gitbook.io/wechatpay-api-v3/chang-jian-wen-ti/qian-ming-xiang-guan).
import { SCHEME, verifyRsa } from "./crypto.ts";
import { v3Error } from "./reply.ts";
import type { V3Reply } from "./reply.ts";
import type { V3State } from "./trust.ts";

const PAIR = /^\s*([a-z_]+)="([^"]*)"\s*$/;
const REQUIRED = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"] as const;
/** How much of the body WeChat shows in truncated_sign_message (as in the error samples WeChat returns). */
const SHOWN_BODY_CHARS = 8;
const MAX_SKEW_SECONDS = 300;

/** The scheme and the key="value" pairs of an Authorization header, or null when it is not of that form. */
export function parseAuthorization(header: string): { scheme: string; params: Record<string, string> } | null {
  const space = header.indexOf(" ");
  if (space <= 0) return null;
  const params: Record<string, string> = {};
  for (const part of header.slice(space + 1).split(",")) {
    const m = PAIR.exec(part);
    if (!m || (m[1] as string) in params) return null;
    params[m[1] as string] = m[2] as string;
  }
  return { scheme: header.slice(0, space), params };
}

/** What WeChat knows about a request when it checks the signature. */
export interface SignedRequest {
  method: string;
  /** path and query exactly as received */
  canonicalUrl: string;
  body: Uint8Array;
  authorization: string | null;
}

const unauthorized = (message: string, detail?: unknown): V3Reply => v3Error(401, "SIGN_ERROR", message, detail, false);

/**
 * Checks the Authorization of a request from merchant `mchId` at `nowMs`: null when it verifies, else the
 * unsigned 401 SIGN_ERROR to answer.
 */
export function checkAuthorization(v3: V3State, mchId: string, r: SignedRequest, nowMs: number): V3Reply | null {
  const parsed = r.authorization ? parseAuthorization(r.authorization) : null;
  if (!parsed || REQUIRED.some((k) => !parsed.params[k])) return unauthorized("Http头Authorization值格式错误");
  if (parsed.scheme !== SCHEME) return unauthorized("Http头Authorization认证类型不正确");
  const p = parsed.params as Record<(typeof REQUIRED)[number], string>;
  if (p.mchid !== mchId) return unauthorized("商户未申请过证书。");
  if (!/^\d{1,16}$/.test(p.timestamp)) return unauthorized("Http头Authorization值格式错误"); // milliseconds fail the 5 minutes
  if (Math.abs(nowMs / 1000 - Number(p.timestamp)) > MAX_SKEW_SECONDS) return unauthorized("Http头Authorization中的timestamp与发起请求的时间不得超过5分钟");
  if (p.serial_no.toUpperCase() !== v3.merchantSerial) return unauthorized("商户证书序列号有误。");
  const head = `${r.method}\n${r.canonicalUrl}\n${p.timestamp}\n${p.nonce_str}\n`;
  const message = Buffer.concat([Buffer.from(head, "utf8"), r.body, Buffer.from("\n")]);
  if (verifyRsa(message, p.signature, v3.merchantPublicKey)) return null;
  const shownBody = Buffer.from(r.body).toString("utf8").slice(0, SHOWN_BODY_CHARS);
  return unauthorized("错误的签名，验签失败", {
    field: "signature",
    issue: "sign not match",
    location: "authorization",
    sign_information: { method: r.method, url: r.canonicalUrl, truncated_sign_message: `${head}${shownBody}\n`, sign_message_length: message.length },
  });
}
