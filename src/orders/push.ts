/**
 * The mini-program message push (消息推送,
 * https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html) for
 * the shipping-information service. GET answers WeChat's URL check (signature over Token, timestamp,
 * nonce → echo `echostr`); POST takes an event in JSON or XML, plain mode (the query's `signature`) or
 * safe mode (`msg_signature` over the Encrypt too, AES-256-CBC, the appid inside checked). A bad
 * signature → 401 and nothing recorded. Accepted pushes are recorded once (a replay changes nothing):
 * `trade_manage_order_settlement` with a settlement_time settles the order (settledAt, order.settled);
 * the same event sent at shipping time (no settlement_time) and the two remind events are only
 * recorded; any other event is acknowledged and ignored.
 */
import { logEvent } from "../log";
import { openSafePush, PushCryptoError, verifyPushSignature } from "../miniprogram/push-crypto";
import { insertEvent } from "../store/events";
import { getOrderByTransactionId } from "../store/orders";
import { recordPush, recordSettlement } from "../store/push-messages";
import { readXml, XmlError } from "../wechatpay/xml";
import type { Deps } from "./deps";

export interface PushReply {
  status: 200 | 400 | 401 | 503;
  body: string;
  outcome: string;
}

const RECORDED = new Set(["trade_manage_order_settlement", "trade_manage_remind_shipping", "trade_manage_remind_access_api"]);
const ok = (outcome: string): PushReply => ({ status: 200, body: "success", outcome });
const refuse = (status: 400 | 401 | 503, outcome: string, body = "refused"): PushReply => ({ status, body, outcome });

/** GET: WeChat checks the URL (only the Token's holder can compute the signature). */
export async function verifyPushUrl(deps: Deps, query: Record<string, string | undefined>): Promise<PushReply> {
  const token = deps.config.push.token;
  if (!token) return refuse(503, "push_not_configured", "message push is not configured");
  const { timestamp, nonce, echostr, signature } = query;
  if (typeof timestamp !== "string" || typeof nonce !== "string" || typeof echostr !== "string") return refuse(400, "incomplete_query");
  if (!(await verifyPushSignature({ token, timestamp, nonce }, signature))) return refuse(401, "bad_signature");
  return { status: 200, body: echostr, outcome: "url_verified" };
}

/** POST: one pushed event. */
export async function handlePush(deps: Deps, query: Record<string, string | undefined>, body: ArrayBuffer): Promise<PushReply> {
  const { token, aesKey } = deps.config.push;
  if (!token) return refuse(503, "push_not_configured", "message push is not configured");
  const { timestamp, nonce } = query;
  if (typeof timestamp !== "string" || typeof nonce !== "string") return refuse(400, "incomplete_query");

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body);
  } catch {
    return refuse(400, "not_utf8");
  }
  let message: Record<string, string> | null;
  if (query.encrypt_type === "aes") {
    if (!aesKey) return refuse(400, "safe_mode_not_configured");
    const outer = parseMessage(text);
    if (!outer?.Encrypt) return refuse(400, "no_encrypt");
    try {
      const inner = await openSafePush({ token, encodingAESKey: aesKey, appId: deps.config.appId }, {
        msgSignature: query.msg_signature, timestamp, nonce, encrypt: outer.Encrypt,
      });
      message = parseMessage(inner);
    } catch (error) {
      if (!(error instanceof PushCryptoError)) throw error;
      return refuse(error.code === "BAD_SIGNATURE" ? 401 : 400, `safe_mode:${error.code}`);
    }
  } else {
    // Plain mode: the signature covers only Token, timestamp and nonce, not the body (WeChat's design).
    // With an EncodingAESKey configured the account is in safe mode, so a plain push is a forgery
    // made from a seen URL: refused.
    if (aesKey) return refuse(401, "plain_push_in_safe_mode");
    if (!(await verifyPushSignature({ token, timestamp, nonce }, query.signature))) return refuse(401, "bad_signature");
    message = parseMessage(text);
  }
  if (!message) return refuse(400, "unreadable");
  return applyPush(deps, message);
}

/** A flat event as strings, from JSON or WeChat's flat XML (through the hardened reader), or null. */
function parseMessage(text: string): Record<string, string> | null {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("<")) {
    try {
      return { ...readXml(new TextEncoder().encode(trimmed)) };
    } catch (error) {
      if (error instanceof XmlError) return null;
      throw error;
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[key] = String(v);
  }
  return out;
}

async function applyPush(deps: Deps, message: Record<string, string>): Promise<PushReply> {
  const event = message.Event ?? "";
  if (!RECORDED.has(event)) return ok(`ignored:${event || message.MsgType || "unknown"}`);
  const now = deps.now().getTime();
  const transactionId = message.transaction_id || null;
  // WeChat's advice for deduplication: FromUserName + CreateTime (plus the event and its trade here).
  const push = {
    identity: `${message.FromUserName ?? ""}:${message.CreateTime ?? ""}:${event}:${transactionId ?? ""}`.slice(0, 300),
    event,
    transactionId,
    detail: message,
    now,
  };
  const order = transactionId ? await getOrderByTransactionId(deps.db, transactionId) : null;
  const settlementTime = Number(message.settlement_time);
  if (event === "trade_manage_order_settlement" && Number.isSafeInteger(settlementTime) && settlementTime > 0) {
    if (!order) {
      await recordPush(deps.db, push, null);
      await insertEvent(deps.db, {
        identity: `anomaly:miniprogram_push:unknown_order:${transactionId ?? ""}`,
        kind: "miniprogram_push",
        verdict: "anomaly",
        transactionId,
        detail: { reason: "unknown_order", event },
        createdAt: now,
      });
      logEvent("push_unknown_order", { event, transactionId });
      return ok("anomaly:unknown_order");
    }
    const { fresh, settled } = await recordSettlement(deps.db, push, order, settlementTime * 1000);
    return ok(!fresh ? "duplicate" : settled ? "settled" : "already_settled");
  }
  // Shipping-time settlement estimate, or a reminder: recorded, nothing changes.
  const fresh = await recordPush(deps.db, push, order?.out_trade_no ?? null);
  return ok(fresh ? `recorded:${event}` : "duplicate");
}
