/**
 * WeChat Pay API v3's payment notification (`POST /wechat/v3/pay/notify`): verified over the raw
 * body, decrypted, then the one transition (exactly once: the same transaction is applied once,
 * whichever path saw it first). The ACK is only sent after D1 has committed what it means.
 */
import { logEvent } from "../../log";
import { isKnownPaid, rememberPaid } from "../../store/notify-hints";
import type { Deps } from "../deps";
import { openV3Callback, refuseV3, type V3NotifyReply } from "./callback";
import { applyTransaction } from "./trade-report";

/**
 * Answers: applied, duplicate or nothing new → 200; signed but not ours or not matching the order
 * (appid, mchid, amount, currency) → anomaly recorded, 200 (a retry would tell nothing new); an
 * order we do not know → anomaly, 500 (perhaps a replica that has not seen it yet: WeChat retries);
 * other event types (refunds come to /wechat/v3/refund/notify) → 200, nothing written.
 */
export async function handlePayNotifyV3(deps: Deps, headers: Headers, body: string): Promise<V3NotifyReply> {
  const opened = await openV3Callback(deps, headers, body);
  if (!opened.ok) return opened.reply;
  const { event } = opened;
  if (event.kind !== "transaction") return { status: 200, outcome: `ignored:${event.eventType}` };

  const t = event.transaction;
  const outTradeNo = t.out_trade_no;
  const transactionId = t.transaction_id ?? "";
  // Fast path: a duplicate of a payment D1 already committed (KV is only a hint, checked against
  // the exact order and amount; a miss or an outage takes the D1 path).
  if (transactionId && (await isKnownPaid(deps.kv, transactionId, outTradeNo, t.amount.total))) {
    return { status: 200, outcome: "duplicate_hint", outTradeNo };
  }
  const outcome = await applyTransaction(deps, "pay_notify", t);
  switch (outcome.result) {
    case "applied":
    case "duplicate":
      if (outcome.order.transaction_id === transactionId) await rememberPaid(deps.kv, transactionId, outTradeNo, outcome.order.total_fee);
      return { status: 200, outcome: outcome.result, outTradeNo };
    case "unchanged":
      return { status: 200, outcome: "unchanged", outTradeNo };
    case "anomaly":
      logEvent("pay_notify_anomaly", { api: "v3", outTradeNo, transactionId, reason: outcome.reason });
      return { status: 200, outcome: `anomaly:${outcome.reason}`, outTradeNo };
    case "unknown_order":
      logEvent("pay_notify_anomaly", { api: "v3", outTradeNo, transactionId, reason: "unknown_order" });
      return { ...refuseV3(500, "order not found", "unknown_order"), outTradeNo };
  }
}
