/**
 * A verified v3 Transaction (query reply or TRANSACTION.SUCCESS callback) as the SAME inputs the
 * one payment transition takes (src/orders/transition.ts, applyTradeReport): v2's field names and
 * forms. So a v3 payment is checked and applied exactly like a v2 one: the amount string-exact
 * against the stored total, CNY and JSAPI only, once per transaction_id.
 */
import { logEvent } from "../../log";
import { insertEvent } from "../../store/events";
import { getOrder } from "../../store/orders";
import type { Fields } from "../../wechatpay/sign";
import { beijingTimestamp, parseRfc3339 } from "../../wechatpay/time";
import type { Transaction } from "../../wechatpay/v3/models";
import type { Deps } from "../deps";
import { applyTradeReport, type TradeSource, type TransitionOutcome } from "../transition";

/**
 * The v2-named fields of a transaction: `trade_state` as is (SUCCESS, REFUND = paid then refunded,
 * NOTPAY, CLOSED, PAYERROR, …), `total_fee` = amount.total in fen, `fee_type` = amount.currency (absent from unpaid replies),
 * `cash_fee` = amount.payer_total, `time_end` = success_time in Beijing `yyyyMMddHHmmss`. A payment
 * notification carries `result_code` SUCCESS, which is what the transition reads for `pay_notify`
 * (openCallback only lets a TRANSACTION.SUCCESS whose trade_state is SUCCESS through).
 */
function tradeFields(t: Transaction, source: TradeSource): Fields {
  const fields: Fields = {
    out_trade_no: t.out_trade_no,
    trade_state: t.trade_state,
    total_fee: String(t.amount.total),
  };
  if (t.amount.currency !== undefined) fields.fee_type = t.amount.currency;
  if (source === "pay_notify") fields.result_code = t.trade_state === "SUCCESS" ? "SUCCESS" : "FAIL";
  if (t.transaction_id !== undefined) fields.transaction_id = t.transaction_id;
  if (t.trade_type !== undefined) fields.trade_type = t.trade_type;
  if (t.trade_state_desc !== undefined) fields.trade_state_desc = t.trade_state_desc;
  if (t.amount.payer_total !== undefined) fields.cash_fee = String(t.amount.payer_total);
  if (t.success_time !== undefined) fields.time_end = beijingTimestamp(parseRfc3339(t.success_time));
  return fields;
}

/**
 * Applies a verified transaction through the one transition. One of ours only: another appid or
 * mchid (signed, yet not this merchant's) is recorded as an anomaly and changes nothing.
 */
export async function applyTransaction(deps: Deps, source: TradeSource, t: Transaction): Promise<TransitionOutcome> {
  const { appId, mchId } = deps.config;
  if (t.appid !== appId || t.mchid !== mchId) {
    logEvent("v3_foreign_transaction", { source, outTradeNo: t.out_trade_no, appid: t.appid, mchid: t.mchid });
    await insertEvent(deps.db, {
      identity: `anomaly:${source}:merchant_mismatch:${t.out_trade_no}:${t.transaction_id ?? ""}`,
      kind: source,
      verdict: "anomaly",
      outTradeNo: t.out_trade_no,
      transactionId: t.transaction_id ?? null,
      detail: { reason: "merchant_mismatch", appid: t.appid, mchid: t.mchid },
      createdAt: deps.now().getTime(),
    });
    return { result: "anomaly", reason: "merchant_mismatch", order: await getOrder(deps.db, t.out_trade_no) };
  }
  return applyTradeReport(deps, source, tradeFields(t, source));
}
