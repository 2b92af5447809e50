/**
 * refundquery for one refund, read as a {@link RefundReport}: WeChat's own signed word on a refund.
 * The scheduled job applies it directly; the refund notification (unsigned, see refund-notify.ts)
 * asks for it before anything moves money.
 */
import type { Fields, SignType } from "../wechatpay/sign";
import type { Deps } from "./deps";
import type { RefundReport } from "./refund-transition";

export type RefundQueryResult =
  | { ok: true; report: RefundReport }
  /** `errCode` is WeChat's err_code when it answered with one (e.g. REFUNDNOTEXIST). */
  | { ok: false; errCode: string | null; reason: string };

/** Asks WeChat (pinned to the order's signature algorithm) for the status of `outRefundNo`. */
export async function queryRefund(deps: Deps, outRefundNo: string, signType: SignType): Promise<RefundQueryResult> {
  const result = await deps.payClient(signType).refundQuery({ outRefundNo });
  if (!result.ok) {
    const errCode = result.kind === "result_fail" ? result.errCode : null;
    return { ok: false, errCode, reason: `refundquery: ${errCode ?? result.kind}` };
  }
  const report = refundEntry(result.data, outRefundNo);
  if (!report) return { ok: false, errCode: null, reason: "refundquery reply without this refund" };
  return { ok: true, report };
}

/** refundquery pages list at most this many refunds; the count is WeChat's, so it is bounded. */
const MAX_ENTRIES = 50;

/** The `_$n` fields of the entry for `outRefundNo` in a refundquery reply, as a refund report. */
function refundEntry(data: Fields, outRefundNo: string): RefundReport | null {
  const count = Number(data.refund_count ?? "0");
  for (let n = 0; n < Math.min(count, MAX_ENTRIES); n++) {
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
