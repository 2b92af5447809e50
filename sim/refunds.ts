// Refunds: /secapi/pay/refund (accept a refund: PROCESSING), /pay/refundquery (indexed `_$n` fields,
// 10 per page) and completing a refund (SUCCESS / REFUNDCLOSE / CHANGE) with its encrypted refund
// notification (pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=9_16).
import { encryptReqInfo, randomDigits, randomNonce } from "./crypto.ts";
import { OUT_NO_PATTERN, parseInt64, present } from "./envelope.ts";
import { bizFail, envelopeFail, signedReply } from "./replies.ts";
import type { Ctx } from "./replies.ts";
import type { Order, Refund, SimState } from "./state.ts";
import { beijingDashed, beijingDate } from "./time.ts";
import { findOrder } from "./trades.ts";
import { enqueueRefundCallback } from "./v3/callbacks.ts";
import { buildXml } from "./xml.ts";

const REFUND_MISMATCH_DES = "订单金额或退款金额与之前请求不一致，请核实后再试";
const MAX_REFUNDS_PER_ORDER = 50;
const REFUNDQUERY_PAGE = 10;

/** What an order has refunded or is refunding (REFUNDCLOSE refunds free their amount again). */
export function refundedFee(order: Order): number {
  return order.refunds.filter((r) => r.status !== "REFUNDCLOSE").reduce((sum, r) => sum + r.refundFee, 0);
}

/** The decrypted refund-notify document: <root>, one CDATA field per line, fields in ASCII order. */
export function refundNotifyPlaintext(fields: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.keys(fields).sort().map((k) => [k, fields[k]]));
  return buildXml(sorted, { root: "root", allCdata: true, newline: true });
}

/** The order a refund request names (transaction_id wins over out_trade_no), or the reply refusing it. */
function refundableOrder(s: SimState, ctx: Ctx): Order | Response {
  const f = ctx.fields;
  let order: Order | undefined;
  if (present(f, "transaction_id")) {
    order = s.byTransactionId.get(f.transaction_id as string);
    if (!order && present(f, "out_trade_no") && s.orders.has(f.out_trade_no as string)) return bizFail(s, ctx, "INVALID_TRANSACTIONID", "无效transaction_id");
  } else order = s.orders.get(f.out_trade_no as string);
  if (!order || (order.state !== "SUCCESS" && order.state !== "REFUND")) return bizFail(s, ctx, "ORDERNOTEXIST", "订单不存在");
  return order;
}

/** Why a new refund of `refundFee` on `order` is refused (the limits shared by v2 and v3), or null. */
export type RefundLimit = "TOO_MANY" | "FULLY_REFUNDED" | "OVER_TOTAL";
/** The message WeChat gives for each refund limit. */
export const REFUND_LIMIT_TEXT: Record<RefundLimit, string> = {
  TOO_MANY: "退款次数超过限制，一笔订单最多可以退款50次",
  FULLY_REFUNDED: "订单已全额退款",
  OVER_TOTAL: "累计退款金额大于支付金额",
};

/** The limit a new refund of `refundFee` would break (count, already refunded, cumulative amount), or null. */
export function refundLimit(order: Order, refundFee: bigint): RefundLimit | null {
  if (order.refunds.length >= MAX_REFUNDS_PER_ORDER) return "TOO_MANY";
  const already = refundedFee(order);
  if (already >= order.totalFee) return "FULLY_REFUNDED";
  if (BigInt(already) + refundFee > BigInt(order.totalFee)) return "OVER_TOTAL";
  return null;
}

/**
 * Records a new PROCESSING refund of a paid order (the order becomes REFUND) and, with
 * autoCompleteRefundsAfterMs, arms its completion. The caller has checked refundLimit().
 */
export function recordRefund(s: SimState, order: Order, req: { api: "v2" | "v3"; outRefundNo: string; refundFee: number; notifyUrl: string | undefined; reason: string }): Refund {
  const r: Refund = {
    api: req.api,
    outRefundNo: req.outRefundNo,
    refundId: "503" + randomDigits(8) + beijingDate(s.now()) + randomDigits(10),
    outTradeNo: order.outTradeNo,
    transactionId: order.transactionId as string,
    totalFee: order.totalFee,
    refundFee: req.refundFee,
    status: "PROCESSING",
    createdAt: s.now(),
    successAt: null,
    notifyUrl: req.notifyUrl ?? s.options.refundNotifyUrl ?? null,
    refundDesc: req.reason,
  };
  order.refunds.push(r);
  s.refundsByNo.set(r.outRefundNo, r);
  order.state = "REFUND";
  const after = s.options.autoCompleteRefundsAfterMs;
  if (after !== undefined && after >= 0 && !s.closed) {
    s.later(() => {
      if (r.status === "PROCESSING" && s.refundsByNo.get(r.outRefundNo) === r) completeRefund(s, r, "SUCCESS", "normal");
    }, after);
  }
  return r;
}

/** A new PROCESSING refund of `order`, or the reply refusing it (count and cumulative amount limits). */
function newRefund(s: SimState, ctx: Ctx, order: Order, refundFee: bigint): Refund | Response {
  const limit = refundLimit(order, refundFee);
  if (limit) return bizFail(s, ctx, "ERROR", REFUND_LIMIT_TEXT[limit]);
  const f = ctx.fields;
  return recordRefund(s, order, {
    api: "v2",
    outRefundNo: f.out_refund_no as string,
    refundFee: Number(refundFee),
    notifyUrl: present(f, "notify_url") ? (f.notify_url as string) : undefined,
    reason: f.refund_desc ?? "",
  });
}

/** POST /secapi/pay/refund: accepts a refund (PROCESSING); the same out_refund_no and amount → the same refund. */
export function refund(s: SimState, ctx: Ctx): Response {
  const f = ctx.fields;
  const order = refundableOrder(s, ctx);
  if (order instanceof Response) return order;
  if (present(f, "refund_fee_type") && f.refund_fee_type !== "CNY") return bizFail(s, ctx, "PARAM_ERROR", "退款币种与支付币种不一致");
  const totalFee = parseInt64(f.total_fee as string) as bigint;
  const refundFee = parseInt64(f.refund_fee as string) as bigint;
  if (refundFee <= 0n) return bizFail(s, ctx, "PARAM_ERROR", "refund_fee参数错误，退款金额必须大于0");
  if (totalFee !== BigInt(order.totalFee)) return bizFail(s, ctx, "REFUND_FEE_MISMATCH", REFUND_MISMATCH_DES);
  const outRefundNo = f.out_refund_no as string;
  if (!OUT_NO_PATTERN.test(outRefundNo)) return envelopeFail("out_refund_no参数格式错误");
  const prior = s.refundsByNo.get(outRefundNo);
  let r: Refund | Response;
  if (prior) {
    if (prior.outTradeNo !== order.outTradeNo) return bizFail(s, ctx, "INVALID_REQUEST", "商户退款单号重复，请核实后再试");
    if (BigInt(prior.refundFee) !== refundFee) return bizFail(s, ctx, "REFUND_FEE_MISMATCH", REFUND_MISMATCH_DES);
    r = prior;
  } else {
    r = newRefund(s, ctx, order, refundFee);
    if (r instanceof Response) return r;
  }
  return signedReply(s, ctx, {
    result_code: "SUCCESS",
    transaction_id: order.transactionId ?? undefined,
    out_trade_no: order.outTradeNo,
    out_refund_no: r.outRefundNo,
    refund_id: r.refundId,
    refund_channel: "",
    refund_fee: String(r.refundFee),
    total_fee: String(order.totalFee),
    fee_type: "CNY",
    cash_fee: String(order.totalFee),
    cash_refund_fee: String(r.refundFee),
  });
}

/** The refunds a refundquery names (refund_id > out_refund_no > transaction_id > out_trade_no) and their order. */
function queriedRefunds(s: SimState, f: Record<string, string>): { list: Refund[]; order: Order | undefined; orderLevel: boolean } {
  const one = (r: Refund | undefined) => ({ list: r ? [r] : [], order: r ? s.orders.get(r.outTradeNo) : undefined, orderLevel: false });
  if (present(f, "refund_id")) return one([...s.refundsByNo.values()].find((x) => x.refundId === f.refund_id));
  if (present(f, "out_refund_no")) return one(s.refundsByNo.get(f.out_refund_no as string));
  const order = findOrder(s, f);
  return { list: order ? order.refunds : [], order, orderLevel: true };
}

/** POST /pay/refundquery: one page of refunds with indexed `_$n` fields. */
export function refundQuery(s: SimState, ctx: Ctx): Response {
  const f = ctx.fields;
  const { list, order, orderLevel } = queriedRefunds(s, f);
  if (!order || list.length === 0) return bizFail(s, ctx, "REFUNDNOTEXIST", "not exist");
  let offset = 0;
  if (present(f, "offset")) {
    const n = parseInt64(f.offset as string) as bigint;
    if (n < 0n || n >= BigInt(list.length)) return bizFail(s, ctx, "PARAM_ERROR", "offset is invalid");
    offset = Number(n);
  }
  const page = list.slice(offset, offset + REFUNDQUERY_PAGE);
  const out: Record<string, string | undefined> = {
    result_code: "SUCCESS",
    total_refund_count: orderLevel && (list.length > REFUNDQUERY_PAGE || present(f, "offset")) ? String(list.length) : undefined,
    transaction_id: order.transactionId ?? undefined,
    out_trade_no: order.outTradeNo,
    total_fee: String(order.totalFee),
    fee_type: "CNY",
    cash_fee: String(order.totalFee),
    refund_count: String(page.length),
  };
  page.forEach((r, n) => {
    out[`out_refund_no_${n}`] = r.outRefundNo;
    out[`refund_id_${n}`] = r.refundId;
    out[`refund_channel_${n}`] = "ORIGINAL";
    out[`refund_fee_${n}`] = String(r.refundFee);
    out[`settlement_refund_fee_${n}`] = String(r.refundFee);
    out[`refund_status_${n}`] = r.status;
    out[`refund_account_${n}`] = "REFUND_SOURCE_UNSETTLED_FUNDS";
    out[`refund_recv_accout_${n}`] = "支付用户零钱";
    if (r.successAt !== null) out[`refund_success_time_${n}`] = beijingDashed(r.successAt);
  });
  return signedReply(s, ctx, out);
}

/**
 * Finishes a refund at WeChat (POST /__sim/refunds/complete, or autoCompleteRefundsAfterMs) and, unless
 * `notify` is "none" or there is no notify URL, enqueues its refund notification. Returns the delivery ids.
 */
export function completeRefund(s: SimState, r: Refund, status: "SUCCESS" | "REFUNDCLOSE" | "CHANGE", notify: "normal" | "none"): string[] {
  const t = s.now();
  r.status = status;
  r.successAt = status === "SUCCESS" ? t : null;
  if (notify === "none") return [];
  if (r.notifyUrl && r.api === "v3") return enqueueRefundCallback(s, r, "normal", 1);
  if (!r.notifyUrl) {
    s.log(`refund ${r.outRefundNo} ${status}: no notify_url (request had none, no refundNotifyUrl configured) → no notification`);
    return [];
  }
  const order = s.orders.get(r.outTradeNo) as Order;
  const plain: Record<string, string> = {
    out_refund_no: r.outRefundNo,
    out_trade_no: r.outTradeNo,
    refund_account: "REFUND_SOURCE_UNSETTLED_FUNDS",
    refund_fee: String(r.refundFee),
    refund_id: r.refundId,
    refund_recv_accout: "支付用户零钱",
    refund_request_source: "API",
    refund_status: status,
    settlement_refund_fee: String(status === "REFUNDCLOSE" ? 0 : r.refundFee),
    settlement_total_fee: String(r.totalFee),
    total_fee: String(r.totalFee),
    transaction_id: r.transactionId,
  };
  if (r.successAt !== null) plain.success_time = beijingDashed(r.successAt);
  const reqInfo = encryptReqInfo(refundNotifyPlaintext(plain), s.options.apiKey);
  const xml = buildXml({ return_code: "SUCCESS", appid: order.appId, mch_id: order.mchId, nonce_str: randomNonce(16), req_info: reqInfo }, { plain: ["return_code"] });
  return s.notifier.enqueueCopies({ kind: "refund", url: r.notifyUrl, body: xml, outTradeNo: r.outTradeNo, outRefundNo: r.outRefundNo }, "normal", 1);
}
