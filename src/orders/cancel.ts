/** Cancelling an unpaid order: closeorder at WeChat first, then CLOSED locally through the transition. */
import { ApiError, upstreamError } from "../errors";
import { logEvent } from "../log";
import { getOrder, type OrderRow } from "../store/orders";
import type { Deps } from "./deps";
import { confirmWithQuery } from "./prepay";
import { applyTradeReport } from "./transition";

const orderPaid = () => new ApiError(409, "ORDER_PAID", "order is already paid");

export async function cancelOrder(deps: Deps, order: OrderRow): Promise<OrderRow> {
  if (order.status === "CLOSED") return order;
  if (order.status === "PAID" || order.status === "REFUNDED") throw orderPaid();

  const result = await deps.payClient(order.sign_type).closeOrder(order.out_trade_no);
  // ORDERNOTEXIST: unifiedorder never reached WeChat, so the order can never be paid there either.
  const closedAtWechat = result.ok || (result.kind === "result_fail" && (result.errCode === "ORDERCLOSED" || result.errCode === "ORDERNOTEXIST"));
  if (closedAtWechat) {
    await applyTradeReport(deps, "closeorder", { out_trade_no: order.out_trade_no, trade_state: "CLOSED" });
    return (await getOrder(deps.db, order.out_trade_no)) ?? order;
  }
  if (result.kind === "result_fail" && result.errCode === "ORDERPAID") {
    // The user paid after all: record the payment through orderquery, never close it.
    await confirmWithQuery(deps, order.out_trade_no);
    throw orderPaid();
  }
  logEvent("closeorder_failed", { outTradeNo: order.out_trade_no, kind: result.kind, errCode: result.kind === "result_fail" ? result.errCode : null });
  // WeChat refuses closeorder during an order's first 5 minutes (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3), usually with
  // SYSTEMERROR: say so, and when to try again, instead of a bare "try again".
  const retryAfterMs = order.created_at + CLOSE_MIN_AGE_MS - deps.now().getTime();
  if (result.kind === "result_fail" && result.errCode === "SYSTEMERROR" && retryAfterMs > 0) {
    throw new ApiError(
      502,
      "UPSTREAM_ERROR",
      "WeChat does not close an order in its first 5 minutes; try again later (an unpaid order also closes by itself when it expires)",
      { "Retry-After": String(Math.ceil(retryAfterMs / 1000)) },
    );
  }
  throw upstreamError();
}

/** WeChat's documented minimum age for closeorder. */
const CLOSE_MIN_AGE_MS = 5 * 60_000;
