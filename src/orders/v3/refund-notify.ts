/**
 * WeChat Pay API v3 refund notifications (`POST /wechat/v3/refund/notify`: REFUND.SUCCESS,
 * REFUND.ABNORMAL, REFUND.CLOSED; https://pay.weixin.qq.com/doc/v3/merchant/4012075420). Unlike v2's
 * (../refund-notify.ts) they are signed by WeChat and encrypted with AES-256-GCM, so once one is
 * opened (callback.ts: verified over the raw body, then decrypted) what it says is WeChat's word: it
 * goes through the one refund transition as it stands, without a refund query, provided it matches a
 * refund we created — out_refund_no, then out_trade_no and amount.refund, which the transition checks.
 *
 * Answers: 200 once D1 committed, for a duplicate, and for anything recorded as an anomaly (a refund
 * we never created, one whose order or amount differ from ours, a report contradicting a final
 * state): a retry would tell nothing new. Other event types → 200, nothing written. D1 failing →
 * 500 (routes/wechat-v3.ts), so WeChat retries.
 */
import { logEvent } from "../../log";
import type { Deps } from "../deps";
import { applyRefundReport } from "../refund-transition";
import { openV3Callback, type V3NotifyReply } from "./callback";
import { refundReportOfV3 } from "./refunds";

export async function handleRefundNotifyV3(deps: Deps, headers: Headers, body: string): Promise<V3NotifyReply> {
  const opened = await openV3Callback(deps, headers, body);
  if (!opened.ok) return opened.reply;
  const { event } = opened;
  // A payment belongs to /wechat/v3/pay/notify (and the scheduled job finds it anyway).
  if (event.kind !== "refund") return { status: 200, outcome: `ignored:${event.eventType}` };

  const report = refundReportOfV3(event.refund);
  const outcome = await applyRefundReport(deps, "refund_notify", { ...report, detail: { ...report.detail, notification_id: event.id } });
  const outTradeNo = outcome.refund?.out_trade_no ?? event.refund.out_trade_no;
  if (outcome.result !== "anomaly") return { status: 200, outcome: outcome.result, outTradeNo };
  logEvent("refund_notify_anomaly", { api: "v3", outRefundNo: report.outRefundNo, reason: outcome.reason });
  return { status: 200, outcome: `anomaly:${outcome.reason}`, outTradeNo };
}
