/**
 * The scheduled reconciliation job (rule 9 in docs/ARCHITECTURE.md), run by the cron trigger and by
 * POST /admin/reconcile. It asks WeChat about what D1 still has open and applies every answer
 * through the one transition of its kind (applyTradeReport for orders, applyRefundReport for
 * refunds), so a run never writes state any other way and a second run, concurrent or not, can
 * never apply anything twice.
 *
 * Bounded twice, because a Worker invocation has two budgets: subrequests and D1 queries (50 each
 * on the free plan). A run stays within DEFAULT_RECONCILE_LIMITS (or the limits passed to
 * runReconciliation on a paid plan), both counted for real (D1 through a counting wrapper of
 * deps.db: each statement and each batch is one query). Refunds go first, within their own share;
 * orders get the rest. An item is only started when what is left of BOTH budgets covers its worst
 * case (ITEM_COST), so the run ends under the caps whatever WeChat answers; the rest waits for the
 * next run. Every item is claimed with a conditional UPDATE stamped with the time of the claim
 * before WeChat is called, so two runs at once split the work instead of doubling it, and items are
 * taken least recently checked first (then oldest first), so items that stay open cannot starve the
 * others. One failing item (WeChat or D1) is counted in `errors`, logged, and the run goes on. Orders
 * placed with API v3 are queried and closed through v3, at the same costs, through the same transition.
 */
import { logEvent } from "../log";
import { adminEventStatement } from "../store/events";
import { claimQuerySlot, listOrdersToReconcile, type OrderRow } from "../store/orders";
import { countingDb, type QueryCounter } from "../store/query-count";
import { claimRefundCheck, listRefundsToReconcile, type RefundCheckWindow, type RefundWithOrder } from "../store/refunds";
import type { Deps } from "./deps";
import { queryRefund } from "./refund-query";
import { applyRefundReport } from "./refund-transition";
import { sendRefundByApi } from "./refunds";
import { isUnknownRefundV3, queryRefundV3 } from "./v3/refunds";
import { applyTradeReport, type TransitionOutcome } from "./transition";
import { closeAtWechatV3 } from "./v3/close";
import { errorCode, verifiedCode } from "./v3/failure";
import { applyTransaction } from "./v3/trade-report";

/** Per-run caps; the defaults fit the free plan (50 subrequests, 50 D1 queries per invocation). */
export interface ReconcileLimits {
  /** WeChat calls per run. */
  wechatCalls: number;
  /** Of which refunds may use at most this many. */
  refundWechatCalls: number;
  /** D1 queries per run (a batch counts one). */
  d1Queries: number;
  /** Of which refunds may use at most this many. */
  refundD1Queries: number;
}

export const DEFAULT_RECONCILE_LIMITS: Readonly<ReconcileLimits> = {
  wechatCalls: 36,
  refundWechatCalls: 16,
  d1Queries: 45,
  refundD1Queries: 20,
};

interface Cost {
  wechat: number;
  d1: number;
}

/** The most one item can cost, reserved before it is started. */
export const ITEM_COST = {
  /** claim; refundquery → applyRefundReport: getRefund, markRefund (one batch), an anomaly event. */
  refund: { wechat: 1, d1: 4 },
  /** claim; refundquery (REFUNDNOTEXIST); refund → a refused one: anomaly event + applyRefundReport (3). */
  refundResend: { wechat: 2, d1: 5 },
  /** claim; orderquery → applyTradeReport: markPayError/markClosed (one batch), getOrder, an unknown-order event. */
  order: { wechat: 1, d1: 4 },
  /** claim; closeorder → applyTradeReport CLOSED (3), or ORDERPAID → orderquery → applyTradeReport (≤ 3). */
  expiredOrder: { wechat: 2, d1: 4 },
} as const satisfies Record<string, Cost>;

/** An order or PROCESSING refund is checked at most once per minute (also the double-run claim window). */
const CHECK_INTERVAL_MS = 60_000;
/** CHANGE refunds wait for a human on the merchant platform: look again hourly. */
const CHANGE_CHECK_INTERVAL_MS = 3600_000;
/** A refund WeChat does not know is re-sent only once its first call has surely finished. */
const RESEND_AFTER_MS = 60_000;
/** orderquery states with nothing final to apply (applyTradeReport would only read the order). */
const OPEN_TRADE_STATES = new Set(["NOTPAY", "USERPAYING", "ACCEPT"]);

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
  /** Calls made to WeChat (never above the wechatCalls limit). */
  wechatCalls: number;
  /** D1 queries made (never above the d1Queries limit). */
  d1Queries: number;
}

/** One run: deps with the counted database, the summary, and the caps. */
interface Run {
  deps: Deps;
  summary: ReconcileSummary;
  counter: QueryCounter;
  limits: ReconcileLimits;
}

/**
 * One run. With `actor` (POST /admin/reconcile) the run ends with the admin's `admin_reconcile` event
 * carrying the summary: one D1 query, reserved from the run's budget and counted in `d1Queries`.
 */
export async function runReconciliation(deps: Deps, limits: Partial<ReconcileLimits> = {}, actor: string | null = null): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = {
    queried: 0, paid: 0, closed: 0, expired: 0, payError: 0,
    refundsQueried: 0, refundsUpdated: 0, refundsRetried: 0, errors: 0, wechatCalls: 0, d1Queries: 0,
  };
  const counter: QueryCounter = { queries: 0 };
  const run: Run = { deps: { ...deps, db: countingDb(deps.db, counter) }, summary, counter, limits: { ...DEFAULT_RECONCILE_LIMITS, ...limits } };
  if (actor !== null) run.limits.d1Queries -= 1;
  await reconcileRefunds(run);
  await reconcileOrders(run);
  if (actor !== null) {
    // The summary it records counts this INSERT as well: it is the run's last query.
    summary.d1Queries = counter.queries + 1;
    await adminEventStatement(run.deps.db, { kind: "admin_reconcile", actor, detail: { ...summary }, createdAt: deps.now().getTime() }).run();
  }
  summary.d1Queries = counter.queries;
  logEvent("reconcile", { ...summary });
  return summary;
}

/** Whether `cost` still fits under the caps, counting what the run has used so far. */
function fits(run: Run, cost: Cost, caps: Cost): boolean {
  return run.summary.wechatCalls + cost.wechat <= caps.wechat && run.counter.queries + cost.d1 <= caps.d1;
}

/** A list query (one D1 query) plus the worst case of at most one item. */
const listing = (item: Cost): Cost => ({ wechat: item.wechat, d1: 1 + item.d1 });

function failed(summary: ReconcileSummary, what: string, id: string, error: unknown): void {
  summary.errors++;
  logEvent("reconcile_item_failed", { what, id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
}

async function reconcileRefunds(run: Run): Promise<void> {
  const { deps, summary, limits } = run;
  const caps = { wechat: Math.min(limits.refundWechatCalls, limits.wechatCalls), d1: Math.min(limits.refundD1Queries, limits.d1Queries) };
  if (!fits(run, listing(ITEM_COST.refund), caps)) return;
  const listedAt = deps.now().getTime();
  let refunds: RefundWithOrder[];
  try {
    refunds = await listRefundsToReconcile(deps.db, { ...checkWindow(deps, listedAt), limit: caps.wechat });
  } catch (error) {
    return failed(summary, "list_refunds", "", error);
  }
  for (const refund of refunds) {
    const mayResend = refund.status === "PROCESSING" && refund.refund_id === null;
    if (!fits(run, mayResend ? ITEM_COST.refundResend : ITEM_COST.refund, caps)) break;
    try {
      // Stamped with the time of the claim, not of the run's start: an overlapping run started
      // later cannot claim it again while this run may still be working on it.
      const at = deps.now().getTime();
      if (!(await claimRefundCheck(deps.db, { ...checkWindow(deps, at), outRefundNo: refund.out_refund_no, now: at }))) continue;
      await checkRefund(deps, summary, refund);
    } catch (error) {
      failed(summary, "refund", refund.out_refund_no, error);
    }
  }
}

/** Which refunds are due at `at`: RECONCILE_DELAY_SECONDS old (as for orders), then once a minute. */
function checkWindow(deps: Deps, at: number): RefundCheckWindow {
  return {
    createdBefore: at - deps.config.reconcileDelaySeconds * 1000,
    processingBefore: at - CHECK_INTERVAL_MS,
    changeBefore: at - CHANGE_CHECK_INTERVAL_MS,
  };
}

async function checkRefund(deps: Deps, summary: ReconcileSummary, refund: RefundWithOrder): Promise<void> {
  summary.wechatCalls++;
  summary.refundsQueried++;
  const result = refund.api === "v3" ? await queryRefundV3(deps, refund.out_refund_no) : await queryRefund(deps, refund.out_refund_no, refund.sign_type);
  if (result.ok) {
    const outcome = await applyRefundReport(deps, "reconcile", result.report);
    if (outcome.result === "applied") summary.refundsUpdated++;
    if (outcome.result === "anomaly") logEvent("reconcile_refund_anomaly", { outRefundNo: refund.out_refund_no, reason: outcome.reason });
    return;
  }
  const firstCallDone = refund.created_at <= deps.now().getTime() - RESEND_AFTER_MS;
  const unknownAtWechat = result.errCode === "REFUNDNOTEXIST" || isUnknownRefundV3(result);
  if (unknownAtWechat && refund.status === "PROCESSING" && refund.refund_id === null && firstCallDone) {
    // The first call never reached WeChat (or was refused in a retryable way): the same request again.
    summary.wechatCalls++;
    const sent = await sendRefundByApi(deps, refund, refund, "reconcile");
    if (sent.kind === "accepted") summary.refundsRetried++;
    else if (sent.kind === "refused") summary.refundsUpdated++;
    else failed(summary, "refund", refund.out_refund_no, new Error(`re-send pending: ${sent.reason}`));
    return;
  }
  failed(summary, "refund", refund.out_refund_no, new Error(result.reason));
}

async function reconcileOrders(run: Run): Promise<void> {
  const { deps, summary, limits } = run;
  const caps = { wechat: limits.wechatCalls, d1: limits.d1Queries };
  if (!fits(run, listing(ITEM_COST.order), caps)) return;
  const listedAt = deps.now().getTime();
  let orders: OrderRow[];
  try {
    orders = await listOrdersToReconcile(deps.db, {
      createdBefore: listedAt - deps.config.reconcileDelaySeconds * 1000,
      now: listedAt,
      checkedBefore: listedAt - CHECK_INTERVAL_MS,
      limit: caps.wechat - summary.wechatCalls,
    });
  } catch (error) {
    return failed(summary, "list_orders", "", error);
  }
  for (const order of orders) {
    const at = deps.now().getTime();
    const expired = order.expires_at <= at;
    if (!fits(run, expired ? ITEM_COST.expiredOrder : ITEM_COST.order, caps)) break;
    try {
      // Stamped with the time of the claim (see reconcileRefunds).
      if (!(await claimQuerySlot(deps.db, order.out_trade_no, at, CHECK_INTERVAL_MS))) continue;
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
  if (order.api === "v3") return queryOrderV3(deps, summary, order);
  const result = await deps.payClient(order.sign_type).orderQuery({ outTradeNo: order.out_trade_no });
  if (result.ok) {
    // Still open at WeChat: nothing to apply (applyTradeReport would only read the order back).
    if (OPEN_TRADE_STATES.has(result.data.trade_state ?? "")) return;
    return count(summary, await applyTradeReport(deps, "reconcile", result.data));
  }
  // Never placed at WeChat (unifiedorder failed): nothing to learn; it is closed once expired.
  if (result.kind === "result_fail" && result.errCode === "ORDERNOTEXIST") return;
  failed(summary, "order", order.out_trade_no, new Error(`orderquery: ${result.kind === "result_fail" ? result.errCode : result.kind}`));
}

async function closeExpired(deps: Deps, summary: ReconcileSummary, order: OrderRow): Promise<void> {
  summary.wechatCalls++;
  if (order.api === "v3") return closeExpiredV3(deps, summary, order);
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

/** queryOrder for an order placed with API v3 (the same rules; the reply mapped by applyTransaction). */
async function queryOrderV3(deps: Deps, summary: ReconcileSummary, order: OrderRow): Promise<void> {
  const result = await (await deps.v3Client()).queryByOutTradeNo(order.out_trade_no);
  if (result.ok) {
    if (OPEN_TRADE_STATES.has(result.data.trade_state)) return;
    return count(summary, await applyTransaction(deps, "reconcile", result.data));
  }
  // Never placed at WeChat (the prepay failed), as WeChat signed it: closed once expired.
  if (verifiedCode(result) === "ORDER_NOT_EXIST") return;
  failed(summary, "order", order.out_trade_no, new Error(`query v3: ${errorCode(result) ?? result.kind}`));
}

/** closeExpired for an order placed with API v3. */
async function closeExpiredV3(deps: Deps, summary: ReconcileSummary, order: OrderRow): Promise<void> {
  const outcome = await closeAtWechatV3(deps, order);
  if (outcome.kind === "closed") {
    const applied = await applyTradeReport(deps, "reconcile", { out_trade_no: order.out_trade_no, trade_state: "CLOSED" });
    if (applied.result === "applied") summary.expired++;
    return;
  }
  if (outcome.kind === "paid") {
    summary.wechatCalls++;
    summary.queried++;
    return queryOrderV3(deps, summary, order);
  }
  failed(summary, "order", order.out_trade_no, new Error(`close v3: ${outcome.failure ? (errorCode(outcome.failure) ?? outcome.failure.kind) : "failed"}`));
}

function count(summary: ReconcileSummary, outcome: TransitionOutcome): void {
  if (outcome.result !== "applied") return;
  if (outcome.order.status === "PAID") summary.paid++;
  else if (outcome.order.status === "CLOSED") summary.closed++;
  else if (outcome.order.status === "PAYERROR") summary.payError++;
}
