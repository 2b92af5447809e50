/**
 * WeChat's refund notification (DESIGN.md rule 4): raw XML in, raw XML out. It carries no
 * signature; `req_info` is AES-256-ECB encrypted with a key derived from the API key, and ECB blocks
 * can be spliced, so the decrypted fields are only a hint that must match a refund we created
 * (out_refund_no, out_trade_no, refund_fee) before the one refund transition applies it.
 *
 * Replies: ACK after D1 committed (or for a duplicate / a report we already know better);
 * 400 FAIL for anything unreadable, foreign, or not matching our refund (recorded as an anomaly
 * when it decrypted correctly); 500 FAIL (via the error boundary) when D1 fails, so WeChat retries.
 */
import { logEvent } from "../log";
import { decryptReqInfo, RefundNotifyError } from "../wechatpay/refund-notify";
import type { Fields } from "../wechatpay/sign";
import { ACK_XML } from "../wechatpay/xml";
import type { Deps } from "./deps";
import { isReply, readCallback, refuse, type NotifyReply } from "./notify-reply";
import { applyRefundReport } from "./refund-transition";

export async function handleRefundNotify(deps: Deps, body: ArrayBuffer): Promise<NotifyReply> {
  const { config } = deps;
  const outer = readCallback(body, config, true);
  if (isReply(outer)) return outer;
  if (!outer.req_info) return refuse("missing_req_info");

  let fields: Fields | null = null;
  let failure: RefundNotifyError | null = null;
  // The current key first; previous keys only during a rotation. Malformed input fails the same
  // way for every key, so only a padding/XML failure is worth another key.
  for (const key of [config.payKey, ...config.previousPayKeys]) {
    try {
      fields = decryptReqInfo(outer.req_info, key);
      break;
    } catch (error) {
      if (!(error instanceof RefundNotifyError)) throw error;
      failure ??= error;
      if (error.code === "BAD_BASE64" || error.code === "BAD_LENGTH") break;
    }
  }
  if (!fields) return refuse(`bad_req_info:${failure?.code ?? "unknown"}`);

  const outRefundNo = fields.out_refund_no ?? "";
  if (outRefundNo === "" || !fields.refund_status) return refuse("incomplete_req_info", "invalid request");
  const report = {
    outRefundNo,
    status: fields.refund_status,
    outTradeNo: fields.out_trade_no ?? "",
    refundFee: fields.refund_fee ?? "",
    ...(fields.refund_id ? { refundId: fields.refund_id } : {}),
    ...(fields.success_time ? { successTime: fields.success_time } : {}),
    detail: { refund_recv_accout: fields.refund_recv_accout ?? null, refund_request_source: fields.refund_request_source ?? null },
  };
  const outcome = await applyRefundReport(deps, "refund_notify", report);
  switch (outcome.result) {
    case "applied":
    case "duplicate":
    case "unchanged":
      return { status: 200, xml: ACK_XML, outcome: outcome.result, outTradeNo: outcome.refund.out_trade_no };
    case "anomaly":
      logEvent("refund_notify_anomaly", { outRefundNo, reason: outcome.reason });
      // A status that contradicts a final one is recorded; a retry would tell us nothing new.
      if (outcome.reason === "refund_status_conflict") {
        return { status: 200, xml: ACK_XML, outcome: `anomaly:${outcome.reason}`, outTradeNo: outcome.refund?.out_trade_no };
      }
      // Not a refund we created (or not as we created it): refused, and the refund is untouched.
      return refuse(`anomaly:${outcome.reason}`, "refund not recognised");
  }
}
