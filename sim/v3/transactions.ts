// The API v3 trade calls: POST /v3/pay/transactions/jsapi (mini-program prepay, re-entry rules),
// GET …/out-trade-no/{out_trade_no} and …/id/{transaction_id} (query), POST …/out-trade-no/{out_trade_no}/close.
// Orders share the v2 order table (sim/state.ts), so bills, controls and either API see them all.
// Docs: https://pay.weixin.qq.com/doc/v3/merchant/4012525182 (prepay), https://pay.weixin.qq.com/doc/v3/merchant/4012525167
// (time_expire, re-entry), https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_4_3.shtml (close).
import type { Order } from "../state.ts";
import { parseRfc3339 } from "../time.ts";
import { isNotifyUrl, issuePrepay, placeOrder, prepayExpiresAt } from "../trades.ts";
import { canonicalJson, int, obj, readJsonBody, str } from "./body.ts";
import type { Json } from "./body.ts";
import { queryMchid } from "./call.ts";
import type { V3Call } from "./call.ts";
import { V3Refusal, noContent, ok, paramError, v3Error } from "./reply.ts";
import type { V3Reply } from "./reply.ts";
import { transactionJson } from "./resources.ts";

/** out_trade_no: 6–32 characters of [0-9A-Za-z_-|*]. */
const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** The fields of a prepay request, checked one by one (PARAM_ERROR names the first bad field). */
function readPrepay(b: Json) {
  const f = {
    appid: str(b, "appid", "/appid", { required: true, max: 32 }) as string,
    mchid: str(b, "mchid", "/mchid", { required: true, max: 32 }) as string,
    description: str(b, "description", "/description", { required: true, max: 127 }) as string,
    outTradeNo: str(b, "out_trade_no", "/out_trade_no", { required: true, min: 6, max: 32, pattern: OUT_TRADE_NO }) as string,
    timeExpire: str(b, "time_expire", "/time_expire", { max: 64 }),
    attach: str(b, "attach", "/attach", { max: 128 }),
    notifyUrl: str(b, "notify_url", "/notify_url", { required: true, max: 255 }) as string,
  };
  str(b, "goods_tag", "/goods_tag", { max: 32 });
  const amount = obj(b, "amount", "/amount", true) as Json;
  const total = int(amount, "total", "/amount/total", { required: true, min: 1 }) as number;
  const currency = str(amount, "currency", "/amount/currency");
  if (currency !== undefined && currency !== "CNY") throw paramError("/amount/currency", "境内商户仅支持人民币CNY", currency);
  const payer = obj(b, "payer", "/payer", true) as Json;
  const openid = str(payer, "openid", "/payer/openid", { required: true, max: 128 }) as string;
  if (!isNotifyUrl(f.notifyUrl)) throw paramError("/notify_url", "必须是不带查询串的绝对http(s) URL", f.notifyUrl);
  return { ...f, total, openid };
}

/** The refusal of a prepay for an out_trade_no already used (paid, closed, expired, other parameters), or null. */
function refuseReentry(call: V3Call, existing: Order, key: string): V3Reply | null {
  if (existing.state === "SUCCESS" || existing.state === "REFUND") return v3Error(400, "ORDERPAID", "该订单已支付");
  if (existing.state === "CLOSED") return v3Error(400, "ORDER_CLOSED", "订单已关闭");
  if (existing.state === "PAYERROR") return v3Error(400, "INVALID_REQUEST", "该订单支付失败，请使用新的商户订单号重新下单");
  if (existing.paramsKey !== key) return v3Error(403, "OUT_TRADE_NO_USED", "商户订单号重复");
  if (existing.timeExpireMs !== null && call.s.now() >= existing.timeExpireMs) return v3Error(400, "INVALID_REQUEST", "订单已超过支付结束时间，请使用新的商户订单号下单");
  return null;
}

/**
 * POST /v3/pay/transactions/jsapi: a new NOTPAY order and its prepay_id; the same out_trade_no with the
 * same parameters (compared as JSON, key order aside) → the current prepay_id (a fresh one after 2 h).
 * time_expire defaults to 7 days and is moved into [now + 1 min, now + 90 days] silently, as documented.
 */
export function prepay(call: V3Call): V3Reply {
  const s = call.s;
  const b = readJsonBody(call.text);
  const f = readPrepay(b);
  if (f.appid !== s.options.appId || f.mchid !== s.options.mchId) return v3Error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
  const issuedUnder = s.openids.get(f.openid);
  if (issuedUnder !== undefined && issuedUnder !== f.appid) throw paramError("/payer/openid", "openid与appid不匹配", f.openid);
  const requested = f.timeExpire === undefined ? null : parseRfc3339(f.timeExpire);
  if (f.timeExpire !== undefined && requested === null) throw paramError("/time_expire", "应为RFC 3339格式的时间，如2018-06-08T10:34:56+08:00", f.timeExpire);
  const key = canonicalJson(b);
  const t = s.now();
  const existing = s.orders.get(f.outTradeNo);
  if (existing) {
    const refused = refuseReentry(call, existing, key);
    if (refused) return refused;
    if (t >= prepayExpiresAt(s, existing.prepayIssuedAt)) issuePrepay(s, existing);
    return ok({ prepay_id: existing.prepayId });
  }
  const order = placeOrder(s, t, {
    api: "v3",
    appId: f.appid,
    mchId: f.mchid,
    outTradeNo: f.outTradeNo,
    paramsKey: key,
    signType: "RSA",
    totalFee: f.total,
    body: f.description,
    attach: f.attach ?? "",
    deviceInfo: "",
    openid: f.openid,
    tradeType: "JSAPI",
    notifyUrl: f.notifyUrl,
    timeStart: "",
    timeExpire: f.timeExpire ?? "",
    timeExpireMs: Math.min(Math.max(requested ?? t + 7 * DAY, t + MINUTE), t + 90 * DAY),
  });
  return ok({ prepay_id: order.prepayId });
}

const orderNotExist = () => new V3Refusal(v3Error(404, "ORDER_NOT_EXIST", "订单不存在"));

/** GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=: the order as a Transaction (any state). */
export function queryByOutTradeNo(call: V3Call): V3Reply {
  queryMchid(call);
  const order = call.s.orders.get(call.params.out_trade_no as string);
  if (!order) throw orderNotExist();
  return ok(transactionJson(call.s, order));
}

/** GET /v3/pay/transactions/id/{transaction_id}?mchid=: a paid order by WeChat's id (unpaid ones have none). */
export function queryByTransactionId(call: V3Call): V3Reply {
  queryMchid(call);
  const order = call.s.byTransactionId.get(call.params.transaction_id as string);
  if (!order) throw orderNotExist();
  return ok(transactionJson(call.s, order));
}

/**
 * POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close {"mchid"}: 204, the order CLOSED. Paid →
 * 400 ORDERPAID; already closed → 204 again; younger than closeMinAgeSeconds → 500 SYSTEM_ERROR (retryable).
 */
export function closeOrderV3(call: V3Call): V3Reply {
  const s = call.s;
  const mchid = str(readJsonBody(call.text), "mchid", "/mchid", { required: true, max: 32 });
  if (mchid !== s.options.mchId) throw paramError("/mchid", "与请求的商户号不一致", mchid);
  const order = s.orders.get(call.params.out_trade_no as string);
  if (!order) throw orderNotExist();
  if (order.state === "SUCCESS" || order.state === "REFUND") return v3Error(400, "ORDERPAID", "订单已支付，不能发起关单");
  if (order.state === "CLOSED") return noContent();
  if (s.now() < order.createdAt + s.options.closeMinAgeSeconds * 1000) return v3Error(500, "SYSTEM_ERROR", "系统错误");
  order.state = "CLOSED";
  order.closedAt = s.now();
  return noContent();
}
