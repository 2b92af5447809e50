/**
 * THE state transition for refunds. The refund notification, the scheduled refundquery and a
 * definitive refusal of the refund API all hand what they learned to {@link applyRefundReport};
 * nothing else writes a refund's status or an order's refunded_fee, so each refund result is applied
 * exactly once whichever path sees it first.
 *
 * States: PROCESSING → SUCCESS | REFUNDCLOSE | CHANGE, and CHANGE → SUCCESS | REFUNDCLOSE.
 * CHANGE ("abnormal": the user's card is void or frozen; handled by a human on the merchant platform)
 * is not final: the money is still held against the order, and a later SUCCESS or REFUNDCLOSE is
 * applied. SUCCESS and REFUNDCLOSE are final: a report that contradicts them is an anomaly.
 *
 * A report that is not WeChat's signed word (the refund notification: its AES-ECB blocks can be
 * cut and pasted between two genuine messages) passes a `confirm` step: before it moves the refund,
 * WeChat is asked (refundquery) and its answer is applied instead.
 */
import { insertEvent } from "../store/events";
import { getRefund, markRefund, saveRefundId, type RefundRow } from "../store/refunds";
import { parseBeijingDateTime } from "../wechatpay/time";
import type { Deps } from "./deps";

export type RefundSource = "refund_notify" | "reconcile" | "refund_api";

/** What WeChat said about one refund. Strings exactly as received. */
export interface RefundReport {
  outRefundNo: string;
  status: string;
  /** When given (notify, refundquery), must equal our row or the report is refused as an anomaly. */
  outTradeNo?: string;
  refundFee?: string;
  refundId?: string;
  /** Beijing `yyyy-MM-dd HH:mm:ss`. */
  successTime?: string;
  detail?: Record<string, unknown>;
}

export type RefundOutcome =
  /** This call moved the refund (and wrote its one `applied` event). */
  | { result: "applied"; refund: RefundRow }
  /** The refund already has this status: nothing written. */
  | { result: "duplicate"; refund: RefundRow }
  /** Nothing new (still PROCESSING, or PROCESSING reported for a CHANGE refund). */
  | { result: "unchanged"; refund: RefundRow }
  /** Recorded as an anomaly event; the refund is untouched. */
  | { result: "anomaly"; reason: RefundAnomaly; refund: RefundRow | null; confirmed?: true };

export type RefundAnomaly =
  | "unknown_refund"
  | "refund_mismatch"
  | "unknown_refund_status"
  | "refund_status_conflict"
  /** An unsigned report said one thing and WeChat's refundquery another; WeChat's answer was applied. */
  | "refund_notify_unconfirmed";

export interface ApplyRefundOptions {
  /**
   * For a report that is not signed by WeChat: called before the report would move the refund, it
   * returns WeChat's own report (refundquery), which is applied instead. Throws when WeChat cannot
   * be asked; then nothing is written.
   */
  confirm?: (refund: RefundRow) => Promise<RefundReport>;
}

const FINAL = new Set(["SUCCESS", "REFUNDCLOSE"]);
const REPORTABLE = new Set(["PROCESSING", "SUCCESS", "REFUNDCLOSE", "CHANGE"]);

/**
 * Applies one refund report. Throws on D1 failure (callers answer "retry later"); a transition is
 * one D1 batch, so nothing is ever half-written.
 */
export async function applyRefundReport(deps: Deps, source: RefundSource, report: RefundReport, options: ApplyRefundOptions = {}): Promise<RefundOutcome> {
  const now = deps.now().getTime();
  const refund = await getRefund(deps.db, report.outRefundNo);
  const anomaly = async (reason: RefundAnomaly, key: string, detail: Record<string, unknown>): Promise<RefundOutcome> => {
    await insertEvent(deps.db, {
      identity: `anomaly:${source}:${reason}:${report.outRefundNo}:${key}`.slice(0, 300),
      kind: source,
      verdict: "anomaly",
      outTradeNo: refund?.out_trade_no ?? (report.outTradeNo || null),
      outRefundNo: report.outRefundNo || null,
      detail: { reason, ...detail },
      createdAt: now,
    });
    return { result: "anomaly", reason, refund };
  };

  if (!refund) return anomaly("unknown_refund", "", { out_trade_no: report.outTradeNo ?? null, refund_fee: report.refundFee ?? null });
  // No signature protects a refund notification: every field must match the refund we created.
  if (
    (report.outTradeNo !== undefined && report.outTradeNo !== refund.out_trade_no) ||
    (report.refundFee !== undefined && report.refundFee !== String(refund.refund_fee))
  ) {
    return anomaly("refund_mismatch", `${report.outTradeNo ?? ""}:${report.refundFee ?? ""}`, {
      expected: { out_trade_no: refund.out_trade_no, refund_fee: refund.refund_fee },
      received: { out_trade_no: report.outTradeNo ?? null, refund_fee: report.refundFee ?? null },
    });
  }
  if (!REPORTABLE.has(report.status)) return anomaly("unknown_refund_status", report.status, { status: report.status });

  if (report.status === refund.status && report.status !== "PROCESSING") return { result: "duplicate", refund };
  if (FINAL.has(refund.status)) {
    // We closed it (or saw it succeed) and WeChat now says otherwise: money may have moved unexpectedly.
    return anomaly("refund_status_conflict", report.status, { status: refund.status, reported: report.status });
  }
  if (report.status === "PROCESSING") {
    // Accepted and in progress: the only thing to learn is WeChat's refund_id (from WeChat's word only).
    if (report.refundId && refund.refund_id === null && !options.confirm) await saveRefundId(deps.db, refund.out_refund_no, report.refundId);
    return { result: "unchanged", refund };
  }

  if (options.confirm) {
    // This report would move money: apply what WeChat itself says instead.
    const confirmed = await options.confirm(refund);
    const outcome = await applyRefundReport(deps, source, { ...confirmed, detail: { ...confirmed.detail, confirmed_by: "refundquery" } });
    // WeChat's own answer contradicts our row: recorded; asking again would tell nothing new.
    if (outcome.result === "anomaly") return { ...outcome, confirmed: true };
    if (confirmed.status === report.status) return outcome;
    return anomaly("refund_notify_unconfirmed", `${report.status}:${confirmed.status}`, { reported: report.status, wechat: confirmed.status });
  }

  const status = report.status as "SUCCESS" | "REFUNDCLOSE" | "CHANGE";
  const { changed, refund: after } = await markRefund(deps.db, {
    outRefundNo: refund.out_refund_no,
    status,
    refundId: report.refundId || null,
    succeededAt: status === "SUCCESS" ? successAt(report.successTime, now) : null,
    source,
    detail: {
      source,
      refund_fee: refund.refund_fee,
      refund_id: report.refundId ?? null,
      success_time: report.successTime ?? null,
      ...report.detail,
    },
    now,
  });
  if (!after) throw new Error("refund vanished during its transition");
  if (changed) return { result: "applied", refund: after };
  // Lost a race with another path: classify against what won.
  if (after.status === status) return { result: "duplicate", refund: after };
  if (FINAL.has(after.status)) return anomaly("refund_status_conflict", status, { status: after.status, reported: status });
  return { result: "unchanged", refund: after };
}

function successAt(successTime: string | undefined, fallback: number): number {
  if (!successTime) return fallback;
  try {
    return parseBeijingDateTime(successTime).getTime();
  } catch {
    return fallback;
  }
}
