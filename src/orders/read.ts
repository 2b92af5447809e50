/**
 * Reading an order as its owner. An unpaid order (NOTPAY, or PAYERROR: a failed attempt can be
 * followed by a successful one) is first confirmed with orderquery (at most once per 5 s per order,
 * claimed in D1): right after `wx.requestPayment` succeeds this is how the mini program learns the
 * truth even when the notification is late or lost.
 */
import { logEvent } from "../log";
import { claimQuerySlot, getOrder, type OrderRow } from "../store/orders";
import type { Deps } from "./deps";
import { confirmWithQuery } from "./prepay";

export const QUERY_ON_READ_INTERVAL_MS = 5_000;

/** The order if it belongs to `userId` (another user's order is indistinguishable from a missing one). */
export async function readOwnOrder(deps: Deps, userId: string, outTradeNo: string): Promise<OrderRow | null> {
  const order = await getOrder(deps.db, outTradeNo);
  if (!order || order.user_id !== userId) return null;
  if (order.status !== "NOTPAY" && order.status !== "PAYERROR") return order;
  const now = deps.now().getTime();
  if (!(await claimQuerySlot(deps.db, outTradeNo, now, QUERY_ON_READ_INTERVAL_MS))) return order;
  try {
    return (await confirmWithQuery(deps, outTradeNo)) ?? order;
  } catch (error) {
    // WeChat or D1 trouble while confirming: answer with what D1 has; the notify or the cron will catch up.
    logEvent("query_on_read_failed", { outTradeNo, error: error instanceof Error ? error.name : "unknown" });
    return order;
  }
}
