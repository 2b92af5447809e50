// The API v3 JSON shapes of the simulator's records: a Transaction (order query answers and the
// decrypted TRANSACTION.SUCCESS resource), a Refund (refund answers) and the decrypted REFUND.* resource.
// Keys are written in the order of WeChat's samples (the vendored callback vectors follow it); clients must
// not depend on it. Shapes: https://pay.weixin.qq.com/wiki/doc/apiv3/wxpay/pay/transactions/chapter3_5.shtml (query),
// https://pay.weixin.qq.com/doc/v3/merchant/4012552567 (refund) and
// https://pay.weixin.qq.com/docs/merchant/apis/h5-payment/payment-notice.html (notices).
import type { Order, Refund, RefundStatus, SimState, TradeState } from "../state.ts";
import { beijingRfc3339 } from "../time.ts";

const TRADE_STATE_DESC: Record<TradeState, string> = {
  SUCCESS: "支付成功",
  REFUND: "转入退款",
  NOTPAY: "订单未支付",
  CLOSED: "订单已关闭",
  PAYERROR: "支付失败，请重新下单支付",
};

/** The v3 name of a refund status (the simulator keeps v2's: REFUNDCLOSE is CLOSED, CHANGE is ABNORMAL). */
export const V3_REFUND_STATUS: Record<RefundStatus, "PROCESSING" | "SUCCESS" | "CLOSED" | "ABNORMAL"> = {
  PROCESSING: "PROCESSING",
  SUCCESS: "SUCCESS",
  REFUNDCLOSE: "CLOSED",
  CHANGE: "ABNORMAL",
};

/** The payer of a paid order (an order placed without an openid, by v2 NATIVE say, gets a stand-in user). */
function payerOpenid(s: SimState, order: Order): string {
  return order.openid || s.openidFor("payer", order.appId);
}

/**
 * A Transaction: unpaid and closed orders show amount (total and payer_currency, no currency), ids and state; paid ones (SUCCESS, REFUND) add
 * transaction_id, bank_type, success_time, the payer and payer_total/payer_currency.
 */
export function transactionJson(s: SimState, order: Order): Record<string, unknown> {
  const paid = order.state === "SUCCESS" || order.state === "REFUND";
  if (!paid || order.transactionId === null || order.paidAt === null) {
    return {
      // As WeChat answers for an unpaid order: no currency, only payer_currency.
      amount: { payer_currency: "CNY", total: order.totalFee },
      mchid: order.mchId,
      trade_state: order.state,
      out_trade_no: order.outTradeNo,
      appid: order.appId,
      trade_state_desc: TRADE_STATE_DESC[order.state],
      ...(order.attach ? { attach: order.attach } : {}),
    };
  }
  return {
    transaction_id: order.transactionId,
    amount: { payer_total: order.totalFee, total: order.totalFee, currency: "CNY", payer_currency: "CNY" },
    mchid: order.mchId,
    trade_state: order.state,
    bank_type: order.bankType,
    promotion_detail: [],
    success_time: beijingRfc3339(order.paidAt),
    payer: { openid: payerOpenid(s, order) },
    out_trade_no: order.outTradeNo,
    appid: order.appId,
    trade_state_desc: TRADE_STATE_DESC[order.state],
    trade_type: order.tradeType,
    ...(order.attach ? { attach: order.attach } : {}),
  };
}

/** A paid order's TRANSACTION.SUCCESS resource, as if paid at `paidAt` with `transactionId` (probes forge one). */
export function paidTransactionJson(s: SimState, order: Order, transactionId: string, paidAt: number): Record<string, unknown> {
  return transactionJson(s, { ...order, state: "SUCCESS", transactionId, paidAt });
}

/** A Refund as the refund API and the refund query answer it. */
export function refundJson(r: Refund): Record<string, unknown> {
  const settled = r.status === "REFUNDCLOSE" ? 0 : r.refundFee;
  return {
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    transaction_id: r.transactionId,
    out_trade_no: r.outTradeNo,
    channel: "ORIGINAL",
    user_received_account: "支付用户零钱",
    ...(r.successAt !== null ? { success_time: beijingRfc3339(r.successAt) } : {}),
    create_time: beijingRfc3339(r.createdAt),
    status: V3_REFUND_STATUS[r.status],
    funds_account: "AVAILABLE",
    amount: {
      total: r.totalFee,
      refund: r.refundFee,
      from: [],
      payer_total: r.totalFee,
      payer_refund: r.refundFee,
      settlement_refund: settled,
      settlement_total: r.totalFee,
      discount_refund: 0,
      currency: "CNY",
      refund_fee: 0,
    },
    promotion_detail: [],
  };
}

/** The decrypted REFUND.* resource: note `refund_status` (the query API calls it `status`). */
export function refundNoticeJson(order: Order, r: Refund): Record<string, unknown> {
  return {
    mchid: order.mchId,
    transaction_id: r.transactionId,
    out_trade_no: r.outTradeNo,
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    refund_status: V3_REFUND_STATUS[r.status],
    ...(r.successAt !== null ? { success_time: beijingRfc3339(r.successAt) } : {}),
    user_received_account: "支付用户零钱",
    amount: { total: r.totalFee, refund: r.refundFee, payer_total: r.totalFee, payer_refund: r.refundFee },
  };
}
