/**
 * Refunds requested by an admin. The refund row (a new out_refund_no, PROCESSING) is committed
 * before WeChat is called, with the refundable remainder checked in the same single INSERT, so
 * concurrent requests can never refund more than was paid. Then the refund API is called; its reply
 * only means "accepted": the result arrives by refund notification or the scheduled refundquery.
 *
 * Failures, by what they tell us about the money:
 * - transport failure, timeout, bad reply signature, an unsigned envelope error, or a retryable
 *   err_code (SYSTEMERROR, BIZERR_NEED_RETRY, ...): WeChat may or may not have the refund. The row
 *   stays PROCESSING (its amount stays held), the admin gets 201 PROCESSING, and the scheduled job
 *   asks refundquery and re-sends with the SAME out_refund_no if WeChat does not know it (WeChat
 *   refunds an out_refund_no at most once, so a re-send can never refund twice).
 * - any other err_code (NOTENOUGH, REFUND_FEE_MISMATCH, ORDERNOTEXIST, TRADE_OVERDUE, ERROR, ...):
 *   WeChat refused this refund and holds nothing for it. The row becomes REFUNDCLOSE through the
 *   refund transition (releasing the amount) and the admin gets 502 UPSTREAM_ERROR naming errCode.
 * Refunds follow their order's API: an order placed with API v3 refunds through v3/refunds.ts,
 * which maps v3's error codes onto these same outcomes.
 */
import type { Config } from "../config";
import { ApiError, badRequest, notFound } from "../errors";
import { logEvent } from "../log";
import { insertEvent } from "../store/events";
import { getOrder, type OrderRow } from "../store/orders";
import { findRefundByIdempotencyKey, getRefund, insertRefund, refundTotals, saveRefundId, type RefundRow } from "../store/refunds";
import { newOutRefundNo } from "../wechatpay/ids";
import type { Fields } from "../wechatpay/sign";
import { hasOutsideBmp, truncateUtf8 } from "../wechatpay/text";
import type { Deps } from "./deps";
import { applyRefundReport, type RefundSource } from "./refund-transition";
import { sendRefundV3 } from "./v3/refunds";

/** WeChat: at most 50 refunds per order. We count every refund row, closed ones included (conservative). */
export const MAX_REFUNDS_PER_ORDER = 50;
/** refund_desc is String(80); we cut the reason at 80 UTF-8 bytes on a character boundary. */
const REFUND_DESC_MAX_BYTES = 80;

/** err_codes after which WeChat asks for a retry with the same out_refund_no (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4). */
const RETRYABLE = new Set(["SYSTEMERROR", "BIZERR_NEED_RETRY", "ORDER_NOT_READY", "FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH"]);
/** Refusals that mean WeChat's view of the order differs from ours: someone must look. */
const DISAGREEMENT = new Set(["ORDERNOTEXIST", "REFUND_FEE_MISMATCH", "INVALID_REQUEST", "INVALID_TRANSACTIONID", "ERROR"]);
/**
 * Codes documented as a final "no" (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4): only these close the refund and release its
 * amount. An unknown or missing err_code keeps the refund PROCESSING (amount held) and is recorded
 * as an anomaly, because releasing money we are not sure WeChat refused would let the books drift.
 */
const DEFINITIVE = new Set([
  ...DISAGREEMENT, "NOTENOUGH", "TRADE_OVERDUE", "USER_ACCOUNT_ABNORMAL", "PARAM_ERROR", "APPID_NOT_EXIST", "MCHID_NOT_EXIST", "NOAUTH",
]);

const notRefundable = (message: string, extra: Record<string, string> = {}) => new ApiError(409, "NOT_REFUNDABLE", message, {}, extra);

export type RefundSendResult =
  | { kind: "accepted"; refundId: string | null }
  /** Unknown or transient: the refund stays PROCESSING; the scheduled job retries it. */
  | { kind: "pending"; reason: string }
  /** Definitively refused: the refund is now REFUNDCLOSE. */
  | { kind: "refused"; errCode: string; errCodeDes: string };

/** The order fields a refund call needs (`api`: which WeChat Pay API the order, and so its refunds, use). */
export type RefundOrder = Pick<OrderRow, "out_trade_no" | "total_fee" | "sign_type" | "notify_url" | "api">;

/**
 * notify_url for a refund: WECHAT_REFUND_NOTIFY_URL, else `/wechat/refund/notify` on the origin the
 * order's pay notify_url points at — a host WeChat already reaches, and the same value for the
 * first call and every re-send (never the admin request's origin, which may be an internal host).
 * Null when none can be derived: WeChat then uses the URL configured on the merchant platform.
 */
export function refundNotifyUrl(config: Config, order: Pick<OrderRow, "notify_url">): string | null {
  if (config.refundNotifyUrl) return config.refundNotifyUrl;
  try {
    return `${new URL(order.notify_url).origin}/wechat/refund/notify`;
  } catch {
    return null;
  }
}

export interface RefundInput {
  outTradeNo: string;
  refundFee: number;
  reason: string | null;
  /** Optional Idempotency-Key: the same key on the same order returns the refund it created. */
  idempotencyKey: string | null;
  /** The admin asking (routes/admin-auth.ts), recorded on the refund's event; a replay records nothing. */
  actor: string;
}

export async function createRefund(deps: Deps, input: RefundInput): Promise<RefundRow> {
  const order = await getOrder(deps.db, input.outTradeNo);
  if (!order) throw notFound("order not found");
  const replay = await findReplay(deps, input);
  if (replay) return replay;
  if (order.status !== "PAID") throw notRefundable(`order is ${order.status}; only PAID orders can be refunded`);
  await assertRefundable(deps, order, input.reason);

  const now = deps.now().getTime();
  const outRefundNo = newOutRefundNo(deps.now());
  let created: boolean;
  try {
    created = await insertRefund(deps.db, {
      outRefundNo,
      outTradeNo: order.out_trade_no,
      refundFee: input.refundFee,
      reason: input.reason,
      idempotencyKey: input.idempotencyKey,
      now,
      maxRefunds: MAX_REFUNDS_PER_ORDER,
      actor: input.actor,
    });
  } catch (error) {
    // A concurrent request with the same key won the insert: answer with its refund.
    const winner = /UNIQUE constraint failed: refunds\.out_trade_no, refunds\.idempotency_key/.test(String(error)) ? await findReplay(deps, input) : null;
    if (winner) return winner;
    throw error;
  }
  if (!created) throw await explainRefusal(deps, order.out_trade_no);

  const refund = await getRefund(deps.db, outRefundNo);
  if (!refund) throw new Error("refund vanished after insert");
  const sent = await sendRefundByApi(deps, refund, order, "refund_api");
  logEvent("refund_requested", { outTradeNo: order.out_trade_no, outRefundNo, refundFee: input.refundFee, outcome: sent.kind });
  if (sent.kind === "refused") {
    throw new ApiError(502, "UPSTREAM_ERROR", `WeChat refused the refund (${sent.errCode}); nothing was refunded`, {}, {
      outRefundNo,
      errCode: sent.errCode,
    });
  }
  return (await getRefund(deps.db, outRefundNo)) ?? refund;
}

/**
 * What the order's API needs before a refund row is written, so a request that cannot be sent
 * changes nothing: its credentials (503 CONFIG_ERROR when they are not set), and for v3 a reason
 * without characters outside the BMP (v3 refuses emoji in every field).
 */
async function assertRefundable(deps: Deps, order: OrderRow, reason: string | null): Promise<void> {
  if (order.api !== "v3") {
    deps.payClient(order.sign_type);
    return;
  }
  await deps.v3Client();
  if (reason !== null && hasOutsideBmp(reason)) {
    throw badRequest("reason must not contain characters outside the BMP (e.g. emoji): this order uses WeChat Pay API v3, which refuses them");
  }
}

/** The refund call of the order's API: v2 (XML, mTLS) or v3 (JSON, signed request; v3/refunds.ts). */
export function sendRefundByApi(
  deps: Deps,
  refund: Pick<RefundRow, "out_refund_no" | "refund_fee" | "reason">,
  order: RefundOrder,
  source: RefundSource,
): Promise<RefundSendResult> {
  return order.api === "v3" ? sendRefundV3(deps, refund, order, source) : sendRefund(deps, refund, order, source);
}

/**
 * The refund an earlier request with the same Idempotency-Key created, or null. The same key with a
 * different amount or reason is another request: 422, nothing created.
 */
async function findReplay(deps: Deps, input: RefundInput): Promise<RefundRow | null> {
  if (!input.idempotencyKey) return null;
  const existing = await findRefundByIdempotencyKey(deps.db, input.outTradeNo, input.idempotencyKey);
  if (!existing) return null;
  if (existing.refund_fee !== input.refundFee || existing.reason !== input.reason) {
    throw new ApiError(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different refund");
  }
  return existing;
}

/** Why the conditional insert refused: the order moved on, the 50-refund cap, or the remainder. */
async function explainRefusal(deps: Deps, outTradeNo: string): Promise<ApiError> {
  const order = await getOrder(deps.db, outTradeNo);
  if (!order || order.status !== "PAID") return notRefundable(`order is ${order?.status ?? "missing"}; only PAID orders can be refunded`);
  const { count, held } = await refundTotals(deps.db, outTradeNo);
  if (count >= MAX_REFUNDS_PER_ORDER) return notRefundable(`an order can have at most ${MAX_REFUNDS_PER_ORDER} refunds`);
  const remainder = Math.max(0, order.total_fee - held);
  return notRefundable(`refundFee exceeds the refundable remainder of ${remainder} fen (refunds in flight count)`, {
    refundableFee: String(remainder),
  });
}

/**
 * Calls the refund API for an existing PROCESSING refund, always with the same parameters for the
 * same row (so a re-send is the identical request WeChat deduplicates), and settles the row:
 * accepted → refund_id stored; refused → REFUNDCLOSE through the refund transition.
 */
export async function sendRefund(
  deps: Deps,
  refund: Pick<RefundRow, "out_refund_no" | "refund_fee" | "reason">,
  order: RefundOrder,
  source: RefundSource,
): Promise<RefundSendResult> {
  const params: Fields = {
    out_trade_no: order.out_trade_no,
    out_refund_no: refund.out_refund_no,
    total_fee: String(order.total_fee),
    refund_fee: String(refund.refund_fee),
  };
  if (refund.reason) params.refund_desc = truncateUtf8(refund.reason, REFUND_DESC_MAX_BYTES);
  const notifyUrl = refundNotifyUrl(deps.config, order);
  if (notifyUrl) params.notify_url = notifyUrl;

  const result = await deps.payClient(order.sign_type).refund(params);
  if (result.ok) {
    if (result.data.out_refund_no !== undefined && result.data.out_refund_no !== refund.out_refund_no) {
      logEvent("refund_reply_mismatch", { outRefundNo: refund.out_refund_no });
      return { kind: "pending", reason: "reply for another out_refund_no" };
    }
    const refundId = result.data.refund_id || null;
    if (refundId) await saveRefundId(deps.db, refund.out_refund_no, refundId);
    return { kind: "accepted", refundId };
  }
  if (result.kind !== "result_fail" || RETRYABLE.has(result.errCode)) {
    return refundPending(refund.out_refund_no, result.kind === "result_fail" ? result.errCode : result.kind);
  }
  const kind = !DEFINITIVE.has(result.errCode) ? "unknown" : DISAGREEMENT.has(result.errCode) ? "disagreement" : "definitive";
  return settleRefusal(deps, source, { outRefundNo: refund.out_refund_no, outTradeNo: order.out_trade_no }, kind, {
    errCode: result.errCode,
    errCodeDes: result.errCodeDes,
    detail: { err_code: result.errCode, err_code_des: result.errCodeDes },
  });
}

/** Unknown or transient: the refund stays PROCESSING (amount held); the scheduled job asks again and re-sends. */
export function refundPending(outRefundNo: string, reason: string): RefundSendResult {
  logEvent("refund_call_pending", { outRefundNo, reason });
  return { kind: "pending", reason };
}

/**
 * How a refund API error that is not worth repeating unchanged reads: a code the API documents as a
 * final "no" (`definitive`), one of those that also shows WeChat's view of the order differs from
 * ours (`disagreement`), or a code it does not document as final (`unknown`).
 */
type RefusalKind = "unknown" | "definitive" | "disagreement";

/**
 * Settles a refund call that WeChat answered with such an error (either API): an unknown code keeps
 * the refund PROCESSING (amount held) and records an anomaly for a human, because releasing money we
 * are not sure WeChat refused would let the books drift; a documented refusal closes the refund
 * (REFUNDCLOSE through the refund transition, releasing the amount), after an anomaly when it shows a
 * disagreement. `detail` is recorded on the events as the API named its fields.
 */
export async function settleRefusal(
  deps: Deps,
  source: RefundSource,
  ids: { outRefundNo: string; outTradeNo: string },
  kind: RefusalKind,
  error: { errCode: string; errCodeDes: string; detail: Record<string, unknown> },
): Promise<RefundSendResult> {
  const { outRefundNo, outTradeNo } = ids;
  const now = deps.now().getTime();
  const anomaly = (reason: string) =>
    insertEvent(deps.db, {
      identity: `anomaly:${source}:${reason}:${outRefundNo}:${error.errCode}`,
      kind: source,
      verdict: "anomaly",
      outTradeNo,
      outRefundNo,
      detail: { reason, ...error.detail },
      createdAt: now,
    });
  if (kind === "unknown") {
    await anomaly("refund_unknown_error");
    return refundPending(outRefundNo, error.errCode || "no err_code");
  }
  if (kind === "disagreement") await anomaly("refund_refused");
  await applyRefundReport(deps, source, { outRefundNo, status: "REFUNDCLOSE", detail: error.detail });
  logEvent("refund_refused", { outRefundNo, errCode: error.errCode });
  return { kind: "refused", errCode: error.errCode, errCodeDes: error.errCodeDes };
}
