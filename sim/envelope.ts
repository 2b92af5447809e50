// The Pay API v2 request envelope: reading the POSTed bytes as strict UTF-8 flat XML, then the checks
// WeChat makes before any business rule — required fields, lengths (UTF-8 bytes), 64-bit integers,
// sign_type, the appid/mch_id pair and the signature. Failures are unsigned return_code=FAIL replies;
// downloadbill words them in English, the other APIs in Chinese (as WeChat does).
import { isSignType, verifySign } from "./crypto.ts";
import type { SignType } from "./crypto.ts";
import type { ApiPath } from "./paths.ts";
import { envelopeFail } from "./replies.ts";
import type { Ctx } from "./replies.ts";
import type { SimState } from "./state.ts";
import { XmlError, parseFlatXml } from "./xml.ts";

/** What each API requires, its maximum field lengths (UTF-8 bytes) and its integer fields (→ the label WeChat names). */
interface ApiSpec {
  required: string[];
  /** at least one of these must be present */
  oneOf?: string[];
  max: Record<string, number>;
  ints: Record<string, string>;
}

const COMMON_MAX: Record<string, number> = { appid: 32, mch_id: 32, device_info: 32, nonce_str: 32, sign: 64, sign_type: 32 };

const SPECS: Record<ApiPath, ApiSpec> = {
  "/pay/unifiedorder": {
    required: ["appid", "mch_id", "nonce_str", "sign", "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"],
    max: {
      body: 127, detail: 6144, attach: 127, out_trade_no: 32, fee_type: 16, spbill_create_ip: 64, time_start: 14, time_expire: 14,
      goods_tag: 32, notify_url: 256, trade_type: 16, product_id: 32, limit_pay: 32, openid: 128, receipt: 8, profit_sharing: 16,
      scene_info: 256, version: 32,
    },
    ints: { total_fee: "标价金额" },
  },
  "/pay/orderquery": { required: ["appid", "mch_id", "nonce_str", "sign"], oneOf: ["transaction_id", "out_trade_no"], max: { transaction_id: 32, out_trade_no: 32 }, ints: {} },
  "/pay/closeorder": { required: ["appid", "mch_id", "out_trade_no", "nonce_str", "sign"], max: { out_trade_no: 32 }, ints: {} },
  "/secapi/pay/refund": {
    required: ["appid", "mch_id", "nonce_str", "sign", "out_refund_no", "total_fee", "refund_fee"],
    oneOf: ["transaction_id", "out_trade_no"],
    max: { transaction_id: 32, out_trade_no: 32, out_refund_no: 64, refund_fee_type: 8, refund_desc: 80, refund_account: 30, notify_url: 256 },
    ints: { total_fee: "订单金额", refund_fee: "申请退款金额" },
  },
  "/pay/refundquery": {
    required: ["appid", "mch_id", "nonce_str", "sign"],
    oneOf: ["refund_id", "out_refund_no", "transaction_id", "out_trade_no"],
    max: { refund_id: 32, out_refund_no: 64, transaction_id: 32, out_trade_no: 32 },
    ints: { offset: "偏移量" },
  },
  "/pay/downloadbill": { required: ["appid", "mch_id", "nonce_str", "sign", "bill_date"], max: { bill_date: 8, bill_type: 16, tar_type: 8 }, ints: {} },
};

const MAX_BODY_BYTES = 256 * 1024;

/** The charset WeChat allows in out_trade_no and out_refund_no. */
export const OUT_NO_PATTERN = /^[0-9A-Za-z_\-|*@]+$/;

/** A signed 64-bit integer as WeChat's XML binder reads it, or null. */
export function parseInt64(v: string): bigint | null {
  if (!/^[+-]?\d{1,19}$/.test(v)) return null;
  const n = BigInt(v);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return null;
  return n;
}

/** A field counts as present when it is a non-empty string (WeChat treats empty as absent). */
export function present(f: Record<string, string>, k: string): boolean {
  return typeof f[k] === "string" && f[k] !== "";
}

/** The body of one Pay API request: its text, its fields when it parsed, or the envelope error to answer. */
export interface Envelope {
  raw: string;
  fields: Record<string, string> | null;
  error: string | null;
}

/** Reads a Pay API request body: POST, non-empty, at most 256 KiB, strict UTF-8, strict flat XML. */
export async function readEnvelope(request: Request, path: ApiPath): Promise<Envelope> {
  const isBill = path === "/pay/downloadbill";
  const bytes = request.method === "GET" || request.method === "HEAD" ? new Uint8Array() : new Uint8Array(await request.arrayBuffer());
  if (request.method !== "POST") return { raw: "", fields: null, error: "require POST method" };
  if (bytes.length === 0) return { raw: "", fields: null, error: isBill ? "empty post data" : "post数据为空" };
  if (bytes.length > MAX_BODY_BYTES) return { raw: "", fields: null, error: isBill ? "data format error" : "XML格式错误" };
  let raw: string;
  try {
    raw = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { raw: Buffer.from(bytes).toString("latin1"), fields: null, error: isBill ? "data format error" : "编码格式错误" };
  }
  try {
    return { raw, fields: parseFlatXml(raw), error: null };
  } catch (e) {
    if (!(e instanceof XmlError)) throw e;
    return { raw, fields: null, error: isBill ? "data format error" : "XML格式错误" };
  }
}

/** Checks the envelope of parsed fields: the request's Ctx when it passes, else the FAIL reply to send. */
export function checkEnvelope(s: SimState, path: ApiPath, f: Record<string, string>): Ctx | Response {
  const spec = SPECS[path];
  const isBill = path === "/pay/downloadbill";
  for (const k of spec.required) if (!present(f, k)) return envelopeFail(isBill ? "missing parameter" : "缺少参数");
  if (spec.oneOf && !spec.oneOf.some((k) => present(f, k))) return envelopeFail(isBill ? "missing parameter" : "缺少参数");
  for (const [k, v] of Object.entries(f)) {
    const max = COMMON_MAX[k] ?? spec.max[k];
    if (max !== undefined && Buffer.byteLength(v, "utf8") > max) {
      if (isBill) return envelopeFail(k === "nonce_str" ? "nonce_str too long" : k === "bill_date" ? "invalid bill_date" : `invalid ${k}`);
      return envelopeFail(`${k}参数长度有误`);
    }
  }
  for (const [k, label] of Object.entries(spec.ints)) {
    if (present(f, k) && parseInt64(f[k] as string) === null) {
      return envelopeFail(`无法将输入源“/body/xml/${k}”映射到目标字段“${label}”中，此字段需要一个合法的 64 位有符号整数`);
    }
  }
  if (present(f, "sign_type") && !isSignType(f.sign_type)) return envelopeFail(isBill ? "invalid sign_type" : "sign_type参数格式错误");
  if (f.appid !== s.options.appId) return envelopeFail(isBill ? "invalid appid" : "商户号mch_id与appid不匹配");
  if (f.mch_id !== s.options.mchId) return envelopeFail(isBill ? "invalid mch_id" : "商户号mch_id与appid不匹配");
  const signType: SignType = isSignType(f.sign_type) ? f.sign_type : "MD5";
  if (!verifySign(f, s.options.apiKey, signType, { caseInsensitive: s.options.acceptLowercaseSign })) return envelopeFail(isBill ? "SIGN ERROR" : "签名错误");
  return { path, fields: f, signType };
}
