/** Closing an unpaid v3 order at WeChat (`POST …/out-trade-no/{no}/close` → 204), for cancel and the cron. */
import type { OrderRow } from "../../store/orders";
import type { V3Failure } from "../../wechatpay/v3/client";
import type { Deps } from "../deps";
import { errorCode, logV3Failure, verifiedCode } from "./failure";

/**
 * What a close at WeChat means for the order, whichever API answered: `closed` (now, before, or
 * never placed there: it can never be paid), `paid` (the user paid after all: query and record
 * it, never close it), or `failed` (nothing learnt; `systemError` when WeChat asked for a retry).
 */
export type CloseOutcome =
  | { kind: "closed" }
  | { kind: "paid" }
  | { kind: "failed"; systemError: boolean; failure?: V3Failure };

/**
 * Closes a v3 order. A 204 is signed over its empty body and verified by the client; "never
 * placed" (ORDER_NOT_EXIST), "already closed" (ORDER_CLOSED) and "paid" count only when WeChat signed them.
 */
export async function closeAtWechatV3(deps: Deps, order: OrderRow): Promise<CloseOutcome> {
  const result = await (await deps.v3Client()).closeOrder(order.out_trade_no);
  if (result.ok) return { kind: "closed" };
  logV3Failure("closeorder_v3_failed", { outTradeNo: order.out_trade_no }, result);
  const code = errorCode(result);
  // Each of these decides what happens to the order, so it counts only when WeChat signed it.
  const signed = verifiedCode(result);
  if (signed === "ORDERPAID" || signed === "ORDER_PAID") return { kind: "paid" };
  if (signed === "ORDER_NOT_EXIST" || signed === "ORDER_CLOSED") return { kind: "closed" };
  return { kind: "failed", systemError: code === "SYSTEM_ERROR", failure: result };
}
