// Mini-program message pushes (消息推送) of the shipping-information service: the three events
// (trade_manage_remind_access_api, trade_manage_remind_shipping, trade_manage_order_settlement; fields as
// in developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/order-shipping/order-shipping.html,
// "相关消息推送"), sent to the configured push URL in JSON or XML, plain or safe mode
// (developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html), through the
// notifier (outbox in vitest, HTTP with npm start).
import { randomInt } from "node:crypto";
import { stableTag } from "./crypto.ts";
import type { NotifyMode } from "./payment.ts";
import { encryptPush, pushSignature } from "./pushcrypto.ts";
import { ControlError } from "./replies.ts";
import type { Order, Shipment, SimState } from "./state.ts";
import { buildXml } from "./xml.ts";

/** The message pushes of the shipping-information service. */
export const PUSH_EVENTS = ["trade_manage_remind_access_api", "trade_manage_remind_shipping", "trade_manage_order_settlement"] as const;
export type PushEvent = (typeof PUSH_EVENTS)[number];

/** The push path on the merchant's server when no pushUrl is configured. */
export const DEFAULT_PUSH_PATH = "/wechat/miniprogram/push";

type PushFields = Record<string, string | number>;

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The sender of these events: a system account, not a user ("此时发送方是系统账号"). */
function systemSender(s: SimState): string {
  return "o" + stableTag(`system:${s.options.appId}`);
}

/** pushUrl, else the origin of the order's notify_url (or of the newest order's) + /wechat/miniprogram/push. */
function pushUrlFor(s: SimState, order: Order | null): string {
  if (s.push.url) return s.push.url;
  const from = order ?? [...s.orders.values()].pop() ?? null;
  if (!from) throw new ControlError(409, "NO_PUSH_URL", "no pushUrl configured and no order whose notify_url origin could stand for it");
  return new URL(from.notifyUrl).origin + DEFAULT_PUSH_PATH;
}

/** The push message body in the configured format: JSON, or <xml> with strings in CDATA and numbers plain. */
function render(s: SimState, message: PushFields): string {
  if (s.push.format === "json") return JSON.stringify(message);
  const text: Record<string, string> = {};
  for (const [k, v] of Object.entries(message)) text[k] = String(v);
  return buildXml(text, { allCdata: true, plain: Object.keys(message).filter((k) => typeof message[k] === "number") });
}

/** Throws the 409 a push for `order` would meet (no Token, no URL), so a control call can refuse before it changes anything. */
export function assertPushReady(s: SimState, order: Order | null): { token: string; url: URL } {
  if (!s.push.token) throw new ControlError(409, "PUSH_NOT_CONFIGURED", "no push Token: set the pushToken option or POST /__sim/push {\"token\"}");
  return { token: s.push.token, url: new URL(pushUrlFor(s, order)) };
}

/**
 * Builds one push of `event` (plain or safe mode) and queues it for delivery; returns the delivery ids
 * (none for notify "none"). Refused (409) while no push Token or URL is configured.
 */
export function sendPush(s: SimState, event: PushEvent, fields: PushFields, order: Order | null, mode: { notify: NotifyMode; copies: number }): string[] {
  const { token, url } = assertPushReady(s, order);
  const { aesKey, format } = s.push;
  const now = s.now();
  const sender = systemSender(s);
  const message: PushFields = { ToUserName: s.originalId(), FromUserName: sender, CreateTime: seconds(now), MsgType: "event", Event: event, ...fields };
  const plaintext = render(s, message);
  const timestamp = String(seconds(now));
  const nonce = String(randomInt(100_000_000, 2_147_483_647));
  url.searchParams.set("signature", pushSignature(token, timestamp, nonce));
  url.searchParams.set("timestamp", timestamp);
  url.searchParams.set("nonce", nonce);
  let body = plaintext;
  if (aesKey) {
    const encrypt = encryptPush(plaintext, s.options.appId, aesKey);
    // as in the documented safe-mode push: openid, encrypt_type and msg_signature join the query
    url.searchParams.set("openid", sender);
    url.searchParams.set("encrypt_type", "aes");
    url.searchParams.set("msg_signature", pushSignature(token, timestamp, nonce, encrypt));
    body = format === "json" ? JSON.stringify({ ToUserName: s.originalId(), Encrypt: encrypt }) : buildXml({ ToUserName: s.originalId(), Encrypt: encrypt }, { allCdata: true });
  }
  if (mode.notify === "none") return [];
  const delivery = { kind: "push" as const, url: url.href, body, outTradeNo: order?.outTradeNo ?? "", outRefundNo: null, event, contentType: format === "json" ? "application/json" : "text/xml" };
  const ids = s.notifier.enqueueCopies(delivery, mode.notify, mode.copies);
  s.log(`push ${event} ${order?.outTradeNo ?? ""} (${format}, ${aesKey ? "safe" : "plain"}) → ${ids.length} delivery(ies)`);
  return ids;
}

/** trade_manage_remind_access_api: "please connect the shipping API" (no order). */
export function remindAccessApiFields(msg?: string): PushFields {
  return { msg: msg ?? "请尽快接入小程序发货信息管理服务API，录入发货信息" };
}

/** trade_manage_remind_shipping: an order paid long ago and still not shipped. */
export function remindShippingFields(order: Order, msg?: string): PushFields {
  return {
    transaction_id: order.transactionId ?? "",
    merchant_id: order.mchId,
    merchant_trade_no: order.outTradeNo,
    pay_time: seconds(order.paidAt ?? 0),
    msg: msg ?? "订单已支付超过48小时尚未发货，请尽快录入发货信息",
  };
}

/**
 * trade_manage_order_settlement. At shipping time: shipped_time and estimated_settlement_time, no
 * settlement_time. At settlement: confirm_receive_method, confirm_receive_time and settlement_time.
 */
export function settlementFields(order: Order, shipment: Shipment, at: { estimatedSettlementAt: number } | "settled"): PushFields {
  const f: PushFields = {
    transaction_id: shipment.transactionId,
    merchant_id: order.mchId,
    merchant_trade_no: order.outTradeNo,
    pay_time: seconds(order.paidAt ?? 0),
    shipped_time: seconds(shipment.shippedAt ?? 0),
  };
  if (at !== "settled") return { ...f, estimated_settlement_time: seconds(at.estimatedSettlementAt) };
  return { ...f, confirm_receive_method: shipment.confirmMethod ?? 2, confirm_receive_time: seconds(shipment.confirmedAt ?? 0), settlement_time: seconds(shipment.settledAt ?? 0) };
}
