/**
 * Cancelling an unpaid order: closed at WeChat first (closeorder, or v3's close for an order placed
 * with API v3), then CLOSED locally through the transition.
 */
import { ApiError, upstreamError } from "../errors";
import { logEvent } from "../log";
import { getOrder, type OrderRow } from "../store/orders";
import type { Deps } from "./deps";
import { confirmWithQuery } from "./prepay";
import { applyTradeReport } from "./transition";
import { closeAtWechatV3, type CloseOutcome } from "./v3/close";
import { upstreamFailure } from "./v3/failure";

const orderPaid = () => new ApiError(409, "ORDER_PAID", "order is already paid");

export async function cancelOrder(deps: Deps, order: OrderRow): Promise<OrderRow> {
  if (order.status === "CLOSED") return order;
  if (order.status === "PAID" || order.status === "REFUNDED") throw orderPaid();

  const outcome = order.api === "v3" ? await closeAtWechatV3(deps, order) : await closeAtWechatV2(deps, order);
  if (outcome.kind === "closed") {
    await applyTradeReport(deps, "closeorder", { out_trade_no: order.out_trade_no, trade_state: "CLOSED" });
    return (await getOrder(deps.db, order.out_trade_no)) ?? order;
  }
  if (outcome.kind === "paid") {
    // The user paid after all: record the payment through the query, never close it.
    await confirmWithQuery(deps, order.out_trade_no);
    throw orderPaid();
  }
  // WeChat refuses closeorder during an order's first 5 minutes (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3), usually with
  // SYSTEMERROR: say so, and when to try again, instead of a bare "try again".
  const retryAfterMs = order.created_at + CLOSE_MIN_AGE_MS - deps.now().getTime();
  if (outcome.systemError && retryAfterMs > 0) {
    throw new ApiError(
      502,
      "UPSTREAM_ERROR",
      "WeChat does not close an order in its first 5 minutes; try again later (an unpaid order also closes by itself when it expires)",
      { "Retry-After": String(Math.ceil(retryAfterMs / 1000)) },
    );
  }
  throw outcome.failure ? upstreamFailure(outcome.failure) : upstreamError();
}

async function closeAtWechatV2(deps: Deps, order: OrderRow): Promise<CloseOutcome> {
  const result = await deps.payClient(order.sign_type).closeOrder(order.out_trade_no);
  const errCode = !result.ok && result.kind === "result_fail" ? result.errCode : null;
  // ORDERNOTEXIST: unifiedorder never reached WeChat, so the order can never be paid there either.
  if (result.ok || errCode === "ORDERCLOSED" || errCode === "ORDERNOTEXIST") return { kind: "closed" };
  if (errCode === "ORDERPAID") return { kind: "paid" };
  logEvent("closeorder_failed", { outTradeNo: order.out_trade_no, kind: result.ok ? null : result.kind, errCode });
  return { kind: "failed", systemError: errCode === "SYSTEMERROR" };
}

/** WeChat's documented minimum age for closeorder. */
const CLOSE_MIN_AGE_MS = 5 * 60_000;
