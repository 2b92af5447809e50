/**
 * WeChat's payment notification (rules 3–4 in docs/ARCHITECTURE.md): raw XML in, raw XML out. Order of checks:
 * read (hardened, capped) → verify signature (pinned algorithm, current and previous key) →
 * appid/mch_id → KV fast path for a transaction already committed → the one transition function.
 * The ACK is only sent after D1 has committed what the notification means.
 */
import { logEvent } from "../log";
import { isKnownPaid, rememberPaid } from "../store/notify-hints";
import { getOrder } from "../store/orders";
import { isValidOutTradeNo } from "../wechatpay/ids";
import { MoneyError, parseFen } from "../wechatpay/money";
import { verifySign, type Fields } from "../wechatpay/sign";
import { ACK_XML, failXml } from "../wechatpay/xml";
import type { Deps } from "./deps";
import { isOurMerchant, isReply, noV2Key, readCallback, refuse, type NotifyReply } from "./notify-reply";
import { applyTradeReport } from "./transition";

export async function handlePayNotify(deps: Deps, body: ArrayBuffer): Promise<NotifyReply> {
  // Signature before merchant: nothing of an unverified message is trusted, not even its appid.
  if (deps.config.payKey === null) return noV2Key();
  const fields = readCallback(body, deps.config, false);
  if (isReply(fields)) return fields;
  if (!(await verifyForOrder(deps, fields))) return refuse("bad_signature", "invalid signature");
  if (!isOurMerchant(fields, deps.config)) return refuse("foreign_merchant");

  const outTradeNo = fields.out_trade_no ?? "";
  const transactionId = fields.transaction_id ?? "";
  const paid = fields.result_code === "SUCCESS";
  let totalFee: number | null = null;
  try {
    totalFee = parseFen(fields.total_fee ?? "");
  } catch (error) {
    if (!(error instanceof MoneyError)) throw error;
  }

  // Fast path: a duplicate of a payment D1 already committed (KV is only a hint, checked against
  // the exact order and amount; a miss or an outage just takes the D1 path below).
  if (paid && transactionId && totalFee !== null && (await isKnownPaid(deps.kv, transactionId, outTradeNo, totalFee))) {
    return { status: 200, xml: ACK_XML, outcome: "duplicate_hint", outTradeNo };
  }

  const outcome = await applyTradeReport(deps, "pay_notify", fields);
  switch (outcome.result) {
    case "applied":
    case "duplicate":
      if (paid && outcome.order.transaction_id === transactionId) {
        await rememberPaid(deps.kv, transactionId, outTradeNo, outcome.order.total_fee);
      }
      return { status: 200, xml: ACK_XML, outcome: outcome.result, outTradeNo };
    case "unchanged":
      return { status: 200, xml: ACK_XML, outcome: "unchanged", outTradeNo };
    case "anomaly":
      // Recorded; a retry would tell us nothing new.
      logEvent("pay_notify_anomaly", { outTradeNo, transactionId, reason: outcome.reason });
      return { status: 200, xml: ACK_XML, outcome: `anomaly:${outcome.reason}`, outTradeNo };
    case "unknown_order":
      // Possibly a replica that has not seen the order yet: ask WeChat to retry.
      logEvent("pay_notify_anomaly", { outTradeNo, transactionId, reason: "unknown_order" });
      return { status: 500, xml: failXml("order not found"), outcome: "unknown_order", outTradeNo };
  }
}

/**
 * Verifies with the configured algorithm; only if that fails, and the order was placed with the
 * other algorithm (WECHAT_SIGN_TYPE changed while orders were in flight), with the order's. The
 * algorithm always comes from our records, never from the message; the extra D1 read happens only
 * on the failure path.
 */
async function verifyForOrder(deps: Deps, fields: Fields): Promise<boolean> {
  const { config } = deps;
  const keys = [config.payKey ?? "", ...config.previousPayKeys];
  if (await verifySign(fields, keys, config.signType)) return true;
  const outTradeNo = fields.out_trade_no ?? "";
  if (!isValidOutTradeNo(outTradeNo)) return false;
  const order = await getOrder(deps.db, outTradeNo);
  return order !== null && order.sign_type !== config.signType && (await verifySign(fields, keys, order.sign_type));
}
