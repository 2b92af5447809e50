/**
 * THE state transition for payments. Every path that learns what WeChat knows about an order — the
 * payment notification, query-on-read, the scheduled reconciliation, a unifiedorder/closeorder that
 * answers ORDERPAID — hands the verified fields to {@link applyTradeReport}. Nothing else writes an
 * order's payment state, so a payment is applied exactly once whichever path sees it first.
 */
import { insertEvent } from "../store/events";
import { getOrder, type OrderRow } from "../store/orders";
import { markClosed, markPaid, markPayError } from "../store/transitions";
import { MoneyError, parseFen } from "../wechatpay/money";
import type { Fields } from "../wechatpay/sign";
import { parseBeijingTimestamp } from "../wechatpay/time";
import type { Deps } from "./deps";

export type TradeSource = "pay_notify" | "order_query" | "reconcile" | "unifiedorder" | "closeorder";

export type TransitionOutcome =
  /** This call moved the order (and wrote its one `applied` event). */
  | { result: "applied"; order: OrderRow }
  /** Already applied earlier with the same facts: nothing written. */
  | { result: "duplicate"; order: OrderRow }
  /** Nothing to do (e.g. WeChat still says NOTPAY). */
  | { result: "unchanged"; order: OrderRow }
  /** Signed by WeChat but inconsistent with our records: recorded as an anomaly event, order untouched. */
  | { result: "anomaly"; reason: string; order: OrderRow | null }
  /** No such order (yet): recorded as an anomaly; the caller decides whether to ask for a retry. */
  | { result: "unknown_order" };

/**
 * Applies WeChat's verified view of one trade (pay-notify fields or an orderquery reply).
 * The caller must have verified the signature, appid and mch_id. Throws on D1 failure (the caller
 * answers "retry later"): nothing is half-written because each transition is one D1 batch.
 */
export async function applyTradeReport(deps: Deps, source: TradeSource, fields: Fields): Promise<TransitionOutcome> {
  const outTradeNo = fields.out_trade_no ?? "";
  const now = deps.now().getTime();
  const state = tradeState(source, fields);

  switch (state) {
    case "SUCCESS":
    case "REFUND": // paid, then (partly) refunded at WeChat: the payment itself happened
      return applyPaid(deps, source, fields, outTradeNo, now);
    case "PAYERROR": {
      const changed = await markPayError(deps.db, {
        outTradeNo,
        source,
        detail: { source, err_code: fields.err_code ?? null, trade_state_desc: fields.trade_state_desc ?? null },
        now,
      });
      return settle(deps, source, outTradeNo, changed, now);
    }
    case "CLOSED":
    case "REVOKED": {
      const changed = await markClosed(deps.db, { outTradeNo, source, detail: { source, trade_state: state }, now });
      return settle(deps, source, outTradeNo, changed, now);
    }
    default: {
      // NOTPAY, USERPAYING, ACCEPT: WeChat has nothing final to report.
      const order = await getOrder(deps.db, outTradeNo);
      if (!order) return unknownOrder(deps, source, outTradeNo, fields.transaction_id ?? null, now);
      return { result: "unchanged", order };
    }
  }
}

/**
 * What the report says happened. A payment notification means what its `result_code` says and
 * nothing else: `trade_state` belongs to orderquery replies, and a notify that carries one (even
 * validly signed) must not be able to turn a failed payment into a paid one or close an order.
 */
function tradeState(source: TradeSource, fields: Fields): string {
  if (source === "pay_notify") return fields.result_code === "SUCCESS" ? "SUCCESS" : "PAYERROR";
  return fields.trade_state ?? "";
}

async function applyPaid(deps: Deps, source: TradeSource, fields: Fields, outTradeNo: string, now: number): Promise<TransitionOutcome> {
  const transactionId = fields.transaction_id ?? "";
  let totalFee: number;
  try {
    totalFee = parseFen(fields.total_fee ?? "");
  } catch (error) {
    if (!(error instanceof MoneyError)) throw error;
    return anomaly(deps, source, outTradeNo, transactionId, "malformed_total_fee", { total_fee: fields.total_fee ?? null }, now);
  }
  if (transactionId === "") return anomaly(deps, source, outTradeNo, null, "missing_transaction_id", {}, now);
  // Only CNY JSAPI payments are ours to accept; anything else is a signed but foreign payment.
  // An empty field is an absent one (the signature skips it too); WeChat's default currency is CNY.
  if (fields.fee_type !== undefined && fields.fee_type !== "" && fields.fee_type !== "CNY") {
    return anomaly(deps, source, outTradeNo, transactionId, "currency_mismatch", { fee_type: fields.fee_type }, now);
  }
  if (fields.trade_type !== undefined && fields.trade_type !== "" && fields.trade_type !== "JSAPI") {
    return anomaly(deps, source, outTradeNo, transactionId, "trade_type_mismatch", { trade_type: fields.trade_type }, now);
  }

  const { changed, order } = await markPaid(deps.db, {
    outTradeNo,
    transactionId,
    totalFee,
    paidAt: paidAt(fields.time_end, now),
    source,
    detail: {
      source,
      total_fee: totalFee,
      cash_fee: fields.cash_fee ?? null,
      bank_type: fields.bank_type ?? null,
      time_end: fields.time_end ?? null,
    },
    now,
  });
  if (changed && order) return { result: "applied", order };
  if (!order) return unknownOrder(deps, source, outTradeNo, transactionId, now);
  if (order.transaction_id === transactionId) return { result: "duplicate", order };
  if (order.total_fee !== totalFee) {
    return anomaly(deps, source, outTradeNo, transactionId, "amount_mismatch", { expected: order.total_fee, received: totalFee }, now, order);
  }
  // Paid at WeChat but we closed it, or a second transaction for an order already paid:
  // money was taken that we did not expect. Someone must look (and probably refund).
  return anomaly(deps, source, outTradeNo, transactionId, "unexpected_payment", { status: order.status, paid_by: order.transaction_id }, now, order);
}

async function settle(deps: Deps, source: TradeSource, outTradeNo: string, changed: boolean, now: number): Promise<TransitionOutcome> {
  const order = await getOrder(deps.db, outTradeNo);
  if (!order) return unknownOrder(deps, source, outTradeNo, null, now);
  return changed ? { result: "applied", order } : { result: "unchanged", order };
}

async function unknownOrder(deps: Deps, source: TradeSource, outTradeNo: string, transactionId: string | null, now: number): Promise<TransitionOutcome> {
  await insertEvent(deps.db, {
    identity: `anomaly:${source}:unknown_order:${outTradeNo}:${transactionId ?? ""}`,
    kind: source,
    verdict: "anomaly",
    outTradeNo: outTradeNo || null,
    transactionId,
    detail: { reason: "unknown_order" },
    createdAt: now,
  });
  return { result: "unknown_order" };
}

async function anomaly(
  deps: Deps,
  source: TradeSource,
  outTradeNo: string,
  transactionId: string | null,
  reason: string,
  detail: Record<string, unknown>,
  now: number,
  knownOrder?: OrderRow,
): Promise<TransitionOutcome> {
  const order = knownOrder ?? (await getOrder(deps.db, outTradeNo));
  if (!order) return unknownOrder(deps, source, outTradeNo, transactionId, now);
  await insertEvent(deps.db, {
    identity: `anomaly:${source}:${reason}:${outTradeNo}:${transactionId ?? ""}`,
    kind: source,
    verdict: "anomaly",
    outTradeNo,
    transactionId,
    detail: { reason, ...detail },
    createdAt: now,
  });
  return { result: "anomaly", reason, order };
}

function paidAt(timeEnd: string | undefined, fallback: number): number {
  if (!timeEnd) return fallback;
  try {
    return parseBeijingTimestamp(timeEnd).getTime();
  } catch {
    return fallback;
  }
}
