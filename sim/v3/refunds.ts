// API v3 refunds: POST /v3/refund/domestic/refunds (accepted = PROCESSING; completed later through the
// control API or autoCompleteRefundsAfterMs, with a REFUND.* callback) and
// GET /v3/refund/domestic/refunds/{out_refund_no} (https://pay.weixin.qq.com/doc/v3/merchant/4012552567).
// The same refund table and limits as v2 (sim/refunds.ts); out_refund_no is the idempotency key.
import { REFUND_LIMIT_TEXT, recordRefund, refundLimit } from "../refunds.ts";
import type { Order, Refund } from "../state.ts";
import { isNotifyUrl } from "../trades.ts";
import { int, obj, readJsonBody, str } from "./body.ts";
import type { Json } from "./body.ts";
import type { V3Call } from "./call.ts";
import { V3Refusal, ok, paramError, v3Error } from "./reply.ts";
import type { V3Reply } from "./reply.ts";
import { refundJson } from "./resources.ts";

/** out_refund_no: up to 64 characters of [0-9A-Za-z_-|*@]. */
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const AMOUNTS_CHANGED = "订单金额或退款金额与之前请求不一致，请核实后再试";

function readRefund(b: Json) {
  const transactionId = str(b, "transaction_id", "/transaction_id", { max: 32 });
  const outTradeNo = str(b, "out_trade_no", "/out_trade_no", { max: 32 });
  if (transactionId === undefined && outTradeNo === undefined) throw paramError("/out_trade_no", "transaction_id和out_trade_no必须二选一");
  const outRefundNo = str(b, "out_refund_no", "/out_refund_no", { required: true, max: 64, pattern: OUT_REFUND_NO }) as string;
  const reason = str(b, "reason", "/reason", { max: 80 });
  const notifyUrl = str(b, "notify_url", "/notify_url", { max: 256 });
  if (notifyUrl !== undefined && !isNotifyUrl(notifyUrl)) throw paramError("/notify_url", "必须是不带查询串的绝对http(s) URL", notifyUrl);
  const fundsAccount = str(b, "funds_account", "/funds_account");
  if (fundsAccount !== undefined && fundsAccount !== "AVAILABLE") throw paramError("/funds_account", "仅支持AVAILABLE", fundsAccount);
  const amount = obj(b, "amount", "/amount", true) as Json;
  const refund = int(amount, "refund", "/amount/refund", { required: true, min: 1 }) as number;
  const total = int(amount, "total", "/amount/total", { required: true, min: 1 }) as number;
  const currency = str(amount, "currency", "/amount/currency", { required: true });
  if (currency !== "CNY") throw paramError("/amount/currency", "境内商户仅支持人民币CNY", currency);
  if (refund > total) throw paramError("/amount/refund", "退款金额不能大于订单金额", refund);
  return { transactionId, outTradeNo, outRefundNo, reason: reason ?? "", notifyUrl, refund, total };
}

/** The paid order a refund names (transaction_id wins over out_trade_no); unknown or unpaid → 404. */
function refundableOrder(call: V3Call, transactionId: string | undefined, outTradeNo: string | undefined): Order {
  const s = call.s;
  const order = transactionId !== undefined ? s.byTransactionId.get(transactionId) : s.orders.get(outTradeNo as string);
  if (!order || (order.state !== "SUCCESS" && order.state !== "REFUND")) throw new V3Refusal(v3Error(404, "RESOURCE_NOT_EXISTS", "订单不存在"));
  return order;
}

/**
 * POST /v3/refund/domestic/refunds: accepts a refund (200, status PROCESSING). The same out_refund_no with
 * the same order and amounts → the same refund as it is now; other amounts → 400 INVALID_REQUEST; a total
 * that is not the order's, too many refunds or more than is left → 400 INVALID_REQUEST. NOT_ENOUGH (the
 * merchant's balance) comes only from the `notenough` fault.
 */
export function createRefundV3(call: V3Call): V3Reply {
  const s = call.s;
  const f = readRefund(readJsonBody(call.text));
  const order = refundableOrder(call, f.transactionId, f.outTradeNo);
  if (f.total !== order.totalFee) return v3Error(400, "INVALID_REQUEST", "订单金额与原支付金额不一致，请核实后再试");
  const prior = s.refundsByNo.get(f.outRefundNo);
  if (prior) {
    if (prior.outTradeNo !== order.outTradeNo) return v3Error(400, "INVALID_REQUEST", "商户退款单号重复，请核实后再试");
    if (prior.refundFee !== f.refund) return v3Error(400, "INVALID_REQUEST", AMOUNTS_CHANGED);
    return ok(refundJson(prior));
  }
  const limit = refundLimit(order, BigInt(f.refund));
  if (limit) return v3Error(400, "INVALID_REQUEST", REFUND_LIMIT_TEXT[limit]);
  const r: Refund = recordRefund(s, order, { api: "v3", outRefundNo: f.outRefundNo, refundFee: f.refund, notifyUrl: f.notifyUrl, reason: f.reason });
  return ok(refundJson(r));
}

/** GET /v3/refund/domestic/refunds/{out_refund_no}: the refund as it is now; unknown → 404 RESOURCE_NOT_EXISTS. */
export function queryRefundV3(call: V3Call): V3Reply {
  const r = call.s.refundsByNo.get(call.params.out_refund_no as string);
  if (!r) return v3Error(404, "RESOURCE_NOT_EXISTS", "退款单不存在");
  return ok(refundJson(r));
}
