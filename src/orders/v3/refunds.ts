/**
 * Refunds of orders placed with WeChat Pay API v3 (`POST /v3/refund/domestic/refunds`,
 * https://pay.weixin.qq.com/doc/v3/merchant/4012552567): no mTLS, the request's signature is the
 * authentication. Everything v3 says about a refund is mapped onto the SAME inputs v2 produces, so
 * the one refund transition (refund-transition.ts) applies it:
 *
 * | v3 `status` | refund transition | why |
 * |---|---|---|
 * | PROCESSING | PROCESSING | accepted, in progress |
 * | SUCCESS | SUCCESS | refunded |
 * | CLOSED | REFUNDCLOSE | v2's name for a closed refund: final, its amount released |
 * | ABNORMAL | CHANGE | v2's name for an abnormal refund: not final, its amount held until a person resolves it on the merchant platform |
 *
 * Errors map onto the outcomes of v2's {@link sendRefund} (see refunds.ts):
 * - transport failure, an unverifiable reply, a retryable code (SYSTEM_ERROR, …) or any error reply
 *   that is not signed: pending (201 PROCESSING, the scheduled job asks and re-sends with the same
 *   out_refund_no; WeChat refunds an out_refund_no at most once);
 * - FREQUENCY_LIMITED ("该笔退款为受理中，请调用查单接口确认或降低频率原单重试") and NOT_ENOUGH (the merchant's
 *   balance; "retry later with the same out_refund_no"): the admin's request asks WeChat first (the
 *   refund may already be accepted), otherwise pending: the job re-sends the same request later.
 *   NOT_ENOUGH also records an anomaly, so someone tops up the balance;
 * - a signed definitive code (USER_ACCOUNT_ABNORMAL, PARAM_ERROR, …): REFUNDCLOSE, 502 to the admin;
 *   one showing WeChat sees the order differently (RESOURCE_NOT_EXISTS, INVALID_REQUEST) with an anomaly;
 * - a signed code not documented as final: pending with an anomaly for a human.
 */
import { logEvent } from "../../log";
import { insertEvent } from "../../store/events";
import type { RefundRow } from "../../store/refunds";
import { beijingRfc3339, parseRfc3339 } from "../../wechatpay/time";
import type { Refund } from "../../wechatpay/v3/models";
import type { Deps } from "../deps";
import type { RefundQueryResult } from "../refund-query";
import { applyRefundReport, type RefundReport, type RefundSource } from "../refund-transition";
import { refundPending, settleRefusal, type RefundOrder, type RefundSendResult } from "../refunds";
import { errorCode, logV3Failure } from "./failure";
import { v3NotifyUrl } from "./notify-url";

/** v3 refund statuses as the refund transition names them (v2's names). */
const TRANSITION_STATUS: Record<Refund["status"], string> = {
  PROCESSING: "PROCESSING",
  SUCCESS: "SUCCESS",
  CLOSED: "REFUNDCLOSE",
  ABNORMAL: "CHANGE",
};

/** Codes after which WeChat may already hold the refund, or will take the same request later. */
const ASK_THEN_RETRY = new Set(["FREQUENCY_LIMITED", "NOT_ENOUGH"]);
/** Signed refusals showing WeChat's view of the order differs from ours: someone must look. */
const DISAGREEMENT = new Set(["RESOURCE_NOT_EXISTS", "ORDER_NOT_EXIST", "INVALID_REQUEST"]);
/** Codes the refund page documents as a final "no" (https://pay.weixin.qq.com/doc/v3/merchant/4012552567). */
const DEFINITIVE = new Set([...DISAGREEMENT, "USER_ACCOUNT_ABNORMAL", "PARAM_ERROR", "MCH_NOT_EXISTS", "NO_AUTH", "APPID_MCHID_NOT_MATCH"]);

/** Whether a refund query's failure means WeChat does not know the refund (so re-sending it is the next step). */
export const isUnknownRefundV3 = (result: RefundQueryResult) => !result.ok && result.errCode === "RESOURCE_NOT_EXISTS";

/** WeChat's v3 word on a refund, as the refund transition reads v2's. */
export function refundReportOfV3(refund: Refund): RefundReport {
  return {
    outRefundNo: refund.out_refund_no,
    status: TRANSITION_STATUS[refund.status],
    outTradeNo: refund.out_trade_no,
    refundFee: String(refund.amount.refund),
    refundId: refund.refund_id,
    ...(refund.success_time ? { successTime: beijingDateTime(refund.success_time) } : {}),
    detail: { api: "v3", v3_status: refund.status, user_received_account: refund.user_received_account ?? null },
  };
}

/** RFC 3339 (any offset) as v2's Beijing `yyyy-MM-dd HH:mm:ss`, which the refund transition reads. */
function beijingDateTime(rfc3339: string): string {
  return beijingRfc3339(parseRfc3339(rfc3339)).slice(0, 19).replace("T", " ");
}

/** `GET /v3/refund/domestic/refunds/{out_refund_no}` as a refund report (the signed word of WeChat). */
export async function queryRefundV3(deps: Deps, outRefundNo: string): Promise<RefundQueryResult> {
  const result = await (await deps.v3Client()).queryRefund(outRefundNo);
  if (!result.ok) {
    const errCode = errorCode(result);
    return { ok: false, errCode, reason: `v3 refund query: ${errCode ?? result.kind}` };
  }
  if (result.data.out_refund_no !== outRefundNo) return { ok: false, errCode: null, reason: "v3 refund query answered for another out_refund_no" };
  return { ok: true, report: refundReportOfV3(result.data) };
}

/**
 * Calls the v3 refund API for an existing PROCESSING refund, always with the same parameters for the
 * same row (WeChat deduplicates by out_refund_no), and settles the row through the refund transition.
 */
export async function sendRefundV3(
  deps: Deps,
  refund: Pick<RefundRow, "out_refund_no" | "refund_fee" | "reason">,
  order: RefundOrder,
  source: RefundSource,
): Promise<RefundSendResult> {
  const client = await deps.v3Client();
  const result = await client.refund({
    out_trade_no: order.out_trade_no,
    out_refund_no: refund.out_refund_no,
    ...(refund.reason ? { reason: refund.reason } : {}),
    notify_url: v3NotifyUrl(deps.config, new URL(order.notify_url).origin, "refund"),
    amount: { refund: refund.refund_fee, total: order.total_fee },
  });
  if (result.ok) return accepted(deps, source, refund.out_refund_no, refundReportOfV3(result.data));
  // Kind, code, Request-ID and, for a SIGN_ERROR, WeChat's view of the message we signed (never a key).
  logV3Failure("refund_call_v3_failed", { outRefundNo: refund.out_refund_no }, result);
  if (result.kind !== "api_error") return refundPending(refund.out_refund_no, result.kind);

  const { error } = result;
  const ids = { outRefundNo: refund.out_refund_no, outTradeNo: order.out_trade_no };
  if (ASK_THEN_RETRY.has(error.code)) {
    if (error.code === "NOT_ENOUGH") await waitingForFunds(deps, source, ids, error.requestId);
    if (source === "refund_api") {
      const known = await queryRefundV3(deps, refund.out_refund_no);
      if (known.ok) return accepted(deps, source, refund.out_refund_no, known.report);
    }
    return refundPending(refund.out_refund_no, error.code);
  }
  // An unsigned error body is no proof that WeChat refused anything: keep the amount held.
  if (error.retryable || !error.verified) return refundPending(refund.out_refund_no, error.code);
  const kind = !DEFINITIVE.has(error.code) ? "unknown" : DISAGREEMENT.has(error.code) ? "disagreement" : "definitive";
  return settleRefusal(deps, source, ids, kind, {
    errCode: error.code,
    errCodeDes: error.wechatMessage,
    detail: { api: "v3", code: error.code, message: error.wechatMessage, request_id: error.requestId },
  });
}

/**
 * WeChat accepted the refund (its signed reply, or its refund query): what it says goes through the
 * refund transition, which stores refund_id for PROCESSING and applies a final status at once.
 */
async function accepted(deps: Deps, source: RefundSource, outRefundNo: string, report: RefundReport): Promise<RefundSendResult> {
  if (report.outRefundNo !== outRefundNo) {
    logEvent("refund_reply_mismatch", { outRefundNo });
    return { kind: "pending", reason: "reply for another out_refund_no" };
  }
  const outcome = await applyRefundReport(deps, source, report);
  if (outcome.result === "anomaly") return refundPending(outRefundNo, `reply ${outcome.reason}`);
  return { kind: "accepted", refundId: report.refundId ?? null };
}

/** NOT_ENOUGH: recorded once per refund and path, so someone tops up the merchant balance; the job keeps re-sending. */
async function waitingForFunds(deps: Deps, source: RefundSource, ids: { outRefundNo: string; outTradeNo: string }, requestId: string | null): Promise<void> {
  await insertEvent(deps.db, {
    identity: `anomaly:${source}:refund_waiting_for_funds:${ids.outRefundNo}`,
    kind: source,
    verdict: "anomaly",
    outTradeNo: ids.outTradeNo,
    outRefundNo: ids.outRefundNo,
    detail: { reason: "refund_waiting_for_funds", api: "v3", code: "NOT_ENOUGH", request_id: requestId },
    createdAt: deps.now().getTime(),
  });
}
