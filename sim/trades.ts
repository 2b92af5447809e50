// The trade APIs: /pay/unifiedorder (place an order, re-entry rules, prepay_id), /pay/orderquery and
// /pay/closeorder. The user paying is in sim/payment.ts; refunds are in sim/refunds.ts.
import { randomDigits, randomHex, randomNonce } from "./crypto.ts";
import { OUT_NO_PATTERN, parseInt64, present } from "./envelope.ts";
import { bizFail, envelopeFail, signedReply } from "./replies.ts";
import type { Ctx } from "./replies.ts";
import type { Order, SimState, TradeState } from "./state.ts";
import { beijingCompact, parseBeijingCompact } from "./time.ts";

const TRADE_STATE_DESC: Record<TradeState, string> = {
  SUCCESS: "支付成功",
  REFUND: "订单发生过退款，退款详情请查询退款单",
  NOTPAY: "订单未支付",
  CLOSED: "订单已关闭",
  PAYERROR: "支付失败，请重新下单支付",
};
const TIME_EXPIRE_TOO_SHORT = "time_expire时间过短，刷卡至少1分钟，其他5分钟";

/** Re-entry comparison key: every non-empty field except nonce_str and sign; sign_type normalised (absent = MD5). */
function reentryKey(f: Record<string, string>): string {
  const g: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) if (v !== "" && k !== "nonce_str" && k !== "sign") g[k] = v;
  g.sign_type = g.sign_type ?? "MD5";
  return Object.keys(g)
    .sort()
    .map((k) => `${k}=${g[k]}`)
    .join("&");
}

/** Gives `order` a fresh prepay_id (valid prepayValiditySeconds) and remembers it for wx.requestPayment. */
export function issuePrepay(s: SimState, order: Order): void {
  const t = s.now();
  order.prepayId = "wx" + beijingCompact(t) + randomHex(10);
  order.prepayIssuedAt = t;
  s.prepays.set(order.prepayId, { outTradeNo: order.outTradeNo, issuedAt: t });
}

/** What a new order is placed with; the rest starts unpaid (NOTPAY, no transaction, no refunds). */
export type OrderRequest = Pick<
  Order,
  "api" | "appId" | "mchId" | "outTradeNo" | "paramsKey" | "signType" | "totalFee" | "body" | "attach" | "deviceInfo" | "openid" | "tradeType" | "notifyUrl" | "timeStart" | "timeExpire" | "timeExpireMs"
>;

/** A new NOTPAY order created at `createdAt`, not yet stored. */
export function newOrder(r: OrderRequest, createdAt: number): Order {
  return { ...r, createdAt, prepayId: "", prepayIssuedAt: 0, state: "NOTPAY", transactionId: null, timeEnd: null, paidAt: null, closedAt: null, bankType: "OTHERS", refunds: [] };
}

/** Places a new order (v2 or v3): stored in the one order table, with its first prepay_id. */
export function placeOrder(s: SimState, createdAt: number, r: OrderRequest): Order {
  const order = newOrder(r, createdAt);
  s.orders.set(order.outTradeNo, order);
  issuePrepay(s, order);
  return order;
}

/** When a prepay_id issued at `issuedAt` stops being valid (epoch ms). */
export function prepayExpiresAt(s: SimState, issuedAt: number): number {
  return issuedAt + s.options.prepayValiditySeconds * 1000;
}

/** notify_url must be an absolute http(s) URL without a query (http too: local development). */
export function isNotifyUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === "https:" || u.protocol === "http:") && u.search === "" && v.indexOf("?") < 0;
  } catch {
    return false;
  }
}

/** Checks a unifiedorder request's business rules; the reply to refuse it with, or null. */
function refuseUnifiedOrder(s: SimState, ctx: Ctx, t: number): Response | null {
  const f = ctx.fields;
  if (!OUT_NO_PATTERN.test(f.out_trade_no as string)) return envelopeFail("out_trade_no参数格式错误");
  if (!isNotifyUrl(f.notify_url as string)) return envelopeFail("notify_url参数格式错误");
  const tradeType = f.trade_type as string;
  if (!["JSAPI", "NATIVE", "APP", "MWEB"].includes(tradeType)) return bizFail(s, ctx, "PARAM_ERROR", "trade_type参数格式错误");
  const fee = parseInt64(f.total_fee as string) as bigint;
  if (fee <= 0n || fee > BigInt(Number.MAX_SAFE_INTEGER)) return bizFail(s, ctx, "PARAM_ERROR", "total_fee参数错误，订单金额必须大于0");
  if (present(f, "fee_type") && f.fee_type !== "CNY") return bizFail(s, ctx, "PARAM_ERROR", "fee_type参数格式错误");
  if (tradeType === "JSAPI" && !present(f, "openid")) return bizFail(s, ctx, "PARAM_ERROR", "JSAPI支付必须传openid");
  if (tradeType === "NATIVE" && !present(f, "product_id")) return bizFail(s, ctx, "PARAM_ERROR", "NATIVE支付必须传product_id");
  if (present(f, "openid")) {
    const issuedUnder = s.openids.get(f.openid as string);
    if (issuedUnder !== undefined && issuedUnder !== f.appid) return bizFail(s, ctx, "PARAM_ERROR", "appid和openid不匹配");
  }
  for (const k of ["time_start", "time_expire"]) {
    if (present(f, k) && parseBeijingCompact(f[k] as string) === null) return bizFail(s, ctx, "PARAM_ERROR", `${k}参数格式错误`);
  }
  const existing = s.orders.get(f.out_trade_no as string);
  if (existing) {
    if (existing.state === "SUCCESS" || existing.state === "REFUND") return bizFail(s, ctx, "ORDERPAID", "该订单已支付");
    if (existing.state === "CLOSED") return bizFail(s, ctx, "ORDERCLOSED", "该订单已关闭");
    if (existing.state === "PAYERROR") return bizFail(s, ctx, "INVALID_REQUEST", "该订单支付失败，请使用新的商户订单号重新下单");
    if (existing.paramsKey !== reentryKey(f)) return bizFail(s, ctx, "OUT_TRADE_NO_USED", "商户订单号重复");
  }
  const expireMs = present(f, "time_expire") ? parseBeijingCompact(f.time_expire as string) : null;
  if (expireMs !== null && expireMs < t + 5 * 60 * 1000) return bizFail(s, ctx, "PARAM_ERROR", TIME_EXPIRE_TOO_SHORT);
  return null;
}

/** POST /pay/unifiedorder: a new NOTPAY order, or an identical re-entry of one (see sim/README.md "Decisions"). */
export function unifiedOrder(s: SimState, ctx: Ctx): Response {
  const t = s.now();
  const refused = refuseUnifiedOrder(s, ctx, t);
  if (refused) return refused;
  const f = ctx.fields;
  let order = s.orders.get(f.out_trade_no as string);
  if (!order) {
    order = placeOrder(s, t, {
      api: "v2",
      appId: f.appid as string,
      mchId: f.mch_id as string,
      outTradeNo: f.out_trade_no as string,
      paramsKey: reentryKey(f),
      signType: ctx.signType,
      totalFee: Number(parseInt64(f.total_fee as string)),
      body: f.body as string,
      attach: f.attach ?? "",
      deviceInfo: f.device_info ?? "",
      openid: f.openid ?? "",
      tradeType: f.trade_type as string,
      notifyUrl: f.notify_url as string,
      timeStart: f.time_start ?? "",
      timeExpire: f.time_expire ?? "",
      timeExpireMs: present(f, "time_expire") ? parseBeijingCompact(f.time_expire as string) : null,
    });
  } else if (t >= prepayExpiresAt(s, order.prepayIssuedAt)) {
    issuePrepay(s, order); // identical re-entry after the prepay_id expired: a fresh one
  }
  const tradeType = f.trade_type as string;
  return signedReply(s, ctx, {
    device_info: f.device_info,
    result_code: "SUCCESS",
    prepay_id: order.prepayId,
    trade_type: tradeType,
    code_url: tradeType === "NATIVE" ? `weixin://wxpay/bizpayurl?pr=${randomNonce(7)}` : undefined,
    mweb_url: tradeType === "MWEB" ? `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${order.prepayId}&package=${randomDigits(10)}` : undefined,
  });
}

/** The order a request names: by transaction_id when given (WeChat prefers it), else by out_trade_no. */
export function findOrder(s: SimState, f: Record<string, string>): Order | undefined {
  if (present(f, "transaction_id")) return s.byTransactionId.get(f.transaction_id as string);
  return s.orders.get(f.out_trade_no as string);
}

/** The payment fields of an order, shared by orderquery and the payment notification. */
export function paidFields(s: SimState, order: Order): Record<string, string | undefined> {
  return {
    device_info: order.deviceInfo || undefined,
    openid: order.openid || s.openidFor("payer", order.appId),
    is_subscribe: "N",
    trade_type: order.tradeType,
    bank_type: order.bankType,
    total_fee: String(order.totalFee),
    fee_type: "CNY",
    cash_fee: String(order.totalFee),
    transaction_id: order.transactionId ?? undefined,
    out_trade_no: order.outTradeNo,
    attach: order.attach || undefined,
    time_end: order.timeEnd ?? undefined,
  };
}

/** POST /pay/orderquery: the order's trade_state, with the fields a real reply in that state carries. */
export function orderQuery(s: SimState, ctx: Ctx): Response {
  const order = findOrder(s, ctx.fields);
  if (!order) return bizFail(s, ctx, "ORDERNOTEXIST", "订单不存在");
  const state = order.state;
  if (state === "NOTPAY") {
    // a real NOTPAY reply carries only the minimal fields
    return signedReply(s, ctx, {
      device_info: "",
      result_code: "SUCCESS",
      total_fee: String(order.totalFee),
      out_trade_no: order.outTradeNo,
      trade_state: "NOTPAY",
      trade_state_desc: TRADE_STATE_DESC.NOTPAY,
    });
  }
  if (state === "CLOSED") {
    return signedReply(s, ctx, {
      result_code: "SUCCESS",
      device_info: order.deviceInfo || undefined,
      openid: order.openid || undefined,
      is_subscribe: "N",
      trade_type: order.tradeType,
      total_fee: String(order.totalFee),
      fee_type: "CNY",
      out_trade_no: order.outTradeNo,
      attach: order.attach || undefined,
      trade_state: "CLOSED",
      trade_state_desc: TRADE_STATE_DESC.CLOSED,
    });
  }
  return signedReply(s, ctx, { result_code: "SUCCESS", ...paidFields(s, order), trade_state: state, trade_state_desc: TRADE_STATE_DESC[state] });
}

/** POST /pay/closeorder: NOTPAY/PAYERROR → CLOSED, once the order is closeMinAgeSeconds old. */
export function closeOrder(s: SimState, ctx: Ctx): Response {
  const order = s.orders.get(ctx.fields.out_trade_no as string);
  if (!order) return bizFail(s, ctx, "ORDERNOTEXIST", "订单不存在");
  if (order.state === "SUCCESS" || order.state === "REFUND") return bizFail(s, ctx, "ORDERPAID", "订单已支付，不能发起关单");
  if (order.state === "CLOSED") return bizFail(s, ctx, "ORDERCLOSED", "订单已关闭，无法重复关闭");
  // "do not call closeorder within 5 minutes of placing the order": WeChat's exact answer is not
  // documented; the simulator answers the retryable SYSTEMERROR seen in real closeorder replies.
  if (s.now() < order.createdAt + s.options.closeMinAgeSeconds * 1000) return bizFail(s, ctx, "SYSTEMERROR", "system error");
  order.state = "CLOSED";
  order.closedAt = s.now();
  return signedReply(s, ctx, { result_code: "SUCCESS", result_msg: "OK" });
}
