/**
 * WeChat's refund notification: raw XML in, raw XML out. It carries no signature; `req_info` is
 * AES-256-ECB encrypted with a key derived from the API key, and ECB blocks can be cut and pasted
 * between two genuine notifications (one refund's number, another's SUCCESS). So the decrypted
 * fields are a hint: they must match a refund we created (out_refund_no, out_trade_no, refund_fee),
 * and before anything moves money WeChat is asked with refundquery, whose signed answer is what the
 * one refund transition applies.
 *
 * Replies: ACK after D1 committed, for a duplicate, for a refund we never created (one made on the
 * merchant platform: recorded as an anomaly, a retry would tell us nothing new) and for a report
 * contradicting what we or WeChat know (anomaly). 400 FAIL for anything unreadable, foreign, or not
 * matching our refund (an anomaly when it decrypted). 500 FAIL when refundquery cannot be asked or
 * D1 fails, so WeChat retries; the refund stays as it was.
 */
import { logEvent } from "../log";
import { decryptReqInfo, RefundNotifyError } from "../wechatpay/refund-notify";
import { getOrder } from "../store/orders";
import type { RefundRow } from "../store/refunds";
import type { Fields } from "../wechatpay/sign";
import { ACK_XML, failXml } from "../wechatpay/xml";
import type { Deps } from "./deps";
import { isReply, noV2Key, readCallback, refuse, type NotifyReply } from "./notify-reply";
import { queryRefund } from "./refund-query";
import { applyRefundReport, type RefundReport } from "./refund-transition";

export async function handleRefundNotify(deps: Deps, body: ArrayBuffer): Promise<NotifyReply> {
  const { config } = deps;
  if (config.payKey === null) return noV2Key();
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
  let outcome;
  try {
    outcome = await applyRefundReport(deps, "refund_notify", report, { confirm: (refund) => askWechat(deps, refund) });
  } catch (error) {
    if (!(error instanceof RefundUnconfirmedError)) throw error;
    logEvent("refund_notify_unconfirmed", { outRefundNo, reason: error.message });
    return { status: 500, xml: failXml("try again later"), outcome: "refundquery_failed" };
  }
  switch (outcome.result) {
    case "applied":
    case "duplicate":
    case "unchanged":
      return { status: 200, xml: ACK_XML, outcome: outcome.result, outTradeNo: outcome.refund.out_trade_no };
    case "anomaly":
      logEvent("refund_notify_anomaly", { outRefundNo, reason: outcome.reason });
      // WeChat's refundquery answer itself disagrees with our refund: recorded, and a retry of the
      // notification would only repeat the same query.
      if (outcome.confirmed) return { status: 200, xml: ACK_XML, outcome: `anomaly:confirmed:${outcome.reason}`, outTradeNo: outcome.refund?.out_trade_no };
      switch (outcome.reason) {
        // Recorded; a retry would tell us nothing new.
        case "unknown_refund":
        case "refund_status_conflict":
        case "refund_notify_unconfirmed":
          return { status: 200, xml: ACK_XML, outcome: `anomaly:${outcome.reason}`, outTradeNo: outcome.refund?.out_trade_no };
        // Not as we created it (or a status WeChat does not send): refused, the refund untouched.
        case "refund_mismatch":
        case "unknown_refund_status":
          return refuse(`anomaly:${outcome.reason}`, "refund not recognised");
      }
  }
}

/** refundquery could not give WeChat's word on a refund (the caller answers "retry later"). */
class RefundUnconfirmedError extends Error {}

/** WeChat's own report on `refund`, pinned to its order's signature algorithm. */
async function askWechat(deps: Deps, refund: RefundRow): Promise<RefundReport> {
  const order = await getOrder(deps.db, refund.out_trade_no);
  if (!order) throw new Error("a refund's order is missing");
  const result = await queryRefund(deps, refund.out_refund_no, order.sign_type);
  if (!result.ok) throw new RefundUnconfirmedError(result.reason);
  return result.report;
}
