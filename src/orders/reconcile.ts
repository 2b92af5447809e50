/**
 * The scheduled reconciliation job (DESIGN.md rule 6), run by the cron trigger and by
 * POST /admin/reconcile. It asks WeChat about what D1 still has open and applies every answer
 * through the one transition of its kind (applyTradeReport for orders, applyRefundReport for
 * refunds), so a run never writes state any other way and a second run, concurrent or not, can
 * never apply anything twice.
 *
 * Bounded: at most MAX_WECHAT_CALLS calls to WeChat per run (the free plan allows 50 subrequests),
 * counted here call by call. Refunds go first with at most REFUND_CALL_SHARE of them; orders get the
 * rest (at least 20). An item is only started when the budget covers its worst case (a refund
 * without refund_id may need refundquery + a re-send; an expired order closeorder + orderquery).
 * Every item is claimed with a conditional UPDATE before WeChat is called, so two runs at once split
 * the work instead of doubling it, and items are taken least recently checked first (then oldest
 * first), so items that stay open cannot starve the others. One failing item (WeChat or D1) is
 * counted in `errors` and the run goes on.
 */
import { logEvent } from "../log";
import { claimQuerySlot, listOrdersToReconcile, type OrderRow } from "../store/orders";
import { claimRefundCheck, listRefundsToReconcile, type RefundWithOrder } from "../store/refunds";
import type { Fields } from "../wechatpay/sign";
import type { Deps } from "./deps";
import { applyRefundReport } from "./refund-transition";
import { sendRefund } from "./refunds";
import { applyTradeReport, type TransitionOutcome } from "./transition";

export const MAX_WECHAT_CALLS = 36;
export const REFUND_CALL_SHARE = 16;
/** An order or PROCESSING refund is checked at most once per minute (also the double-run claim window). */
const CHECK_INTERVAL_MS = 60_000;
/** CHANGE refunds wait for a human on the merchant platform: look again hourly. */
const CHANGE_CHECK_INTERVAL_MS = 3600_000;
/** A refund WeChat does not know is re-sent only once its first call has surely finished. */
const RESEND_AFTER_MS = 60_000;

export interface ReconcileSummary {
  /** orderquery calls made. */
  queried: number;
  /** Orders this run moved to PAID (orderquery, or closeorder answering ORDERPAID). */
  paid: number;
  /** Orders WeChat reported CLOSED. */
  closed: number;
  /** Expired orders this run closed with closeorder. */
  expired: number;
  /** Orders WeChat reported PAYERROR. */
  payError: number;
  refundsQueried: number;
  /** Refunds this run moved (SUCCESS, REFUNDCLOSE, CHANGE). */
  refundsUpdated: number;
  /** Refunds re-sent with their out_refund_no because WeChat did not know them, and accepted. */
  refundsRetried: number;
  /** Items that failed (WeChat or D1); they are retried on a later run. */
  errors: number;
  /** Calls made to WeChat (never above MAX_WECHAT_CALLS). */
  wechatCalls: number;
}

export async function runReconciliation(deps: Deps): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = {
    queried: 0, paid: 0, closed: 0, expired: 0, payError: 0,
    refundsQueried: 0, refundsUpdated: 0, refundsRetried: 0, errors: 0, wechatCalls: 0,
  };
  const now = deps.now().getTime();
  await reconcileRefunds(deps, summary, now);
  await reconcileOrders(deps, summary, now);
  logEvent("reconcile", { ...summary });
  return summary;
}

function failed(summary: ReconcileSummary, what: string, id: string, error: unknown): void {
  summary.errors++;
  logEvent("reconcile_item_failed", { what, id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
}

async function reconcileRefunds(deps: Deps, summary: ReconcileSummary, now: number): Promise<void> {
  const window = { processingBefore: now - CHECK_INTERVAL_MS, changeBefore: now - CHANGE_CHECK_INTERVAL_MS };
  let refunds: RefundWithOrder[];
  try {
    refunds = await listRefundsToReconcile(deps.db, { ...window, limit: REFUND_CALL_SHARE });
  } catch (error) {
    return failed(summary, "list_refunds", "", error);
  }
  for (const refund of refunds) {
    const mayResend = refund.status === "PROCESSING" && refund.refund_id === null;
    if (summary.wechatCalls + (mayResend ? 2 : 1) > REFUND_CALL_SHARE) break;
    try {
      if (!(await claimRefundCheck(deps.db, { outRefundNo: refund.out_refund_no, now, ...window }))) continue;
      await checkRefund(deps, summary, refund, now);
    } catch (error) {
      failed(summary, "refund", refund.out_refund_no, error);
    }
  }
}

async function checkRefund(deps: Deps, summary: ReconcileSummary, refund: RefundWithOrder, now: number): Promise<void> {
  summary.wechatCalls++;
  summary.refundsQueried++;
  const result = await deps.payClient(refund.sign_type).refundQuery({ outRefundNo: refund.out_refund_no });
  if (result.ok) {
    const entry = refundEntry(result.data, refund.out_refund_no);
    if (!entry) return failed(summary, "refund", refund.out_refund_no, new Error("refundquery reply without this refund"));
    const outcome = await applyRefundReport(deps, "reconcile", entry);
    if (outcome.result === "applied") summary.refundsUpdated++;
    if (outcome.result === "anomaly") logEvent("reconcile_refund_anomaly", { outRefundNo: refund.out_refund_no, reason: outcome.reason });
    return;
  }
  const unknownAtWechat = result.kind === "result_fail" && result.errCode === "REFUNDNOTEXIST";
  if (unknownAtWechat && refund.status === "PROCESSING" && refund.refund_id === null && refund.created_at <= now - RESEND_AFTER_MS) {
    // The first call never reached WeChat (or was refused in a retryable way): the same request again.
    summary.wechatCalls++;
    const sent = await sendRefund(deps, refund, refund, "reconcile");
    if (sent.kind === "accepted") summary.refundsRetried++;
    else if (sent.kind === "refused") summary.refundsUpdated++;
    else summary.errors++;
    return;
  }
  failed(summary, "refund", refund.out_refund_no, new Error(`refundquery: ${result.kind === "result_fail" ? result.errCode : result.kind}`));
}

/** The `_$n` fields of the entry for `outRefundNo` in a refundquery reply, as a refund report. */
function refundEntry(data: Fields, outRefundNo: string) {
  const count = Number(data.refund_count ?? "0");
  for (let n = 0; n < Math.min(count, 50); n++) {
    if (data[`out_refund_no_${n}`] !== outRefundNo) continue;
    const refundId = data[`refund_id_${n}`];
    const successTime = data[`refund_success_time_${n}`];
    return {
      outRefundNo,
      status: data[`refund_status_${n}`] ?? "",
      outTradeNo: data.out_trade_no ?? "",
      refundFee: data[`refund_fee_${n}`] ?? "",
      ...(refundId ? { refundId } : {}),
      ...(successTime ? { successTime } : {}),
      detail: { refund_recv_accout: data[`refund_recv_accout_${n}`] ?? null },
    };
  }
  return null;
}

async function reconcileOrders(deps: Deps, summary: ReconcileSummary, now: number): Promise<void> {
  let orders: OrderRow[];
  try {
    orders = await listOrdersToReconcile(deps.db, {
      createdBefore: now - deps.config.reconcileDelaySeconds * 1000,
      now,
      checkedBefore: now - CHECK_INTERVAL_MS,
      limit: MAX_WECHAT_CALLS - summary.wechatCalls,
    });
  } catch (error) {
    return failed(summary, "list_orders", "", error);
  }
  for (const order of orders) {
    const expired = order.expires_at <= now;
    if (summary.wechatCalls + (expired ? 2 : 1) > MAX_WECHAT_CALLS) break;
    try {
      if (!(await claimQuerySlot(deps.db, order.out_trade_no, now, CHECK_INTERVAL_MS))) continue;
      if (expired) await closeExpired(deps, summary, order);
      else await queryOrder(deps, summary, order);
    } catch (error) {
      failed(summary, "order", order.out_trade_no, error);
    }
  }
}

async function queryOrder(deps: Deps, summary: ReconcileSummary, order: OrderRow): Promise<void> {
  summary.wechatCalls++;
  summary.queried++;
  const result = await deps.payClient(order.sign_type).orderQuery({ outTradeNo: order.out_trade_no });
  if (result.ok) return count(summary, await applyTradeReport(deps, "reconcile", result.data));
  // Never placed at WeChat (unifiedorder failed): nothing to learn; it is closed once expired.
  if (result.kind === "result_fail" && result.errCode === "ORDERNOTEXIST") return;
  failed(summary, "order", order.out_trade_no, new Error(`orderquery: ${result.kind === "result_fail" ? result.errCode : result.kind}`));
}

async function closeExpired(deps: Deps, summary: ReconcileSummary, order: OrderRow): Promise<void> {
  summary.wechatCalls++;
  const client = deps.payClient(order.sign_type);
  const result = await client.closeOrder(order.out_trade_no);
  const errCode = !result.ok && result.kind === "result_fail" ? result.errCode : null;
  // Closed now, closed before, or never known to WeChat (and past its time_expire, so it can no
  // longer be paid): CLOSED through the transition.
  if (result.ok || errCode === "ORDERCLOSED" || errCode === "ORDERNOTEXIST") {
    const outcome = await applyTradeReport(deps, "reconcile", { out_trade_no: order.out_trade_no, trade_state: "CLOSED" });
    if (outcome.result === "applied") summary.expired++;
    return;
  }
  if (errCode === "ORDERPAID") {
    // Paid after all: record the payment from orderquery, never close it.
    summary.wechatCalls++;
    summary.queried++;
    const query = await client.orderQuery({ outTradeNo: order.out_trade_no });
    if (query.ok) return count(summary, await applyTradeReport(deps, "reconcile", query.data));
    return failed(summary, "order", order.out_trade_no, new Error(`orderquery: ${query.kind}`));
  }
  failed(summary, "order", order.out_trade_no, new Error(`closeorder: ${errCode ?? (result.ok ? "" : result.kind)}`));
}

function count(summary: ReconcileSummary, outcome: TransitionOutcome): void {
  if (outcome.result !== "applied") return;
  if (outcome.order.status === "PAID") summary.paid++;
  else if (outcome.order.status === "CLOSED") summary.closed++;
  else if (outcome.order.status === "PAYERROR") summary.payError++;
}
