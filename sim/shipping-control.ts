// Control routes of the shipping-information service: the user confirming receipt and WeChat settling
// (with the trade_manage_order_settlement push), the shipping-time push, the two reminders, the
// is_trade_managed / confirmation-completed switches, the message push configuration and the access
// tokens. Listed by GET /__sim/ with the other routes (sim/control.ts).
import { badRequest, readJson } from "./control-kit.ts";
import type { ControlRoute } from "./control-kit.ts";
import { readNotifyMode } from "./payment.ts";
import { PUSH_EVENTS, assertPushReady, remindAccessApiFields, remindShippingFields, sendPush, settlementFields } from "./push.ts";
import type { PushEvent } from "./push.ts";
import { isEncodingAesKey } from "./pushcrypto.ts";
import { ControlError, jsonResponse } from "./replies.ts";
import { orderState, orderView, paidOrder, pushShipped } from "./shipping.ts";
import type { Order, Shipment, SimState } from "./state.ts";

/** The paid order a control body names by transactionId (or outTradeNo), with its shipment. */
function target(s: SimState, b: Record<string, unknown>): { order: Order; shipment: Shipment | undefined } {
  let order: Order | undefined;
  if (typeof b.transactionId === "string") order = paidOrder(s, b.transactionId);
  else if (typeof b.outTradeNo === "string") order = s.orders.get(b.outTradeNo);
  else throw badRequest("transactionId (or outTradeNo) is required");
  if (!order?.transactionId) throw new ControlError(404, "UNKNOWN_TRANSACTION", `no paid order ${JSON.stringify(b.transactionId ?? b.outTradeNo)}`);
  return { order, shipment: s.shipments.get(order.transactionId) };
}

/** The shipment of an order that may be confirmed or settled: shipped (order_state 2, or 3 to settle). */
function shippedShipment(order: Order, shipment: Shipment | undefined, allowed: number[]): Shipment {
  const state = orderState(order, shipment);
  if (allowed.includes(state) && shipment) return shipment;
  const why: Record<number, [string, string]> = {
    1: ["NOT_SHIPPED", "is not shipped yet (order_state 1): upload_shipping_info first"],
    2: ["NOT_CONFIRMED", "is shipped but not confirmed (order_state 2)"],
    3: ["ALREADY_CONFIRMED", "is already confirmed (order_state 3)"],
    4: ["ALREADY_SETTLED", "is already settled (order_state 4)"],
    5: ["REFUNDED", "is refunded (order_state 5)"],
  };
  const [code, text] = why[state] as [string, string];
  throw new ControlError(409, code, `order ${order.outTradeNo} ${text}`);
}

/** What the confirm / settle / notify-shipped routes answer. */
function answer(s: SimState, order: Order, deliveryIds: string[]) {
  const shipment = s.shipments.get(order.transactionId as string);
  return jsonResponse({ transactionId: order.transactionId, outTradeNo: order.outTradeNo, orderState: orderState(order, shipment), deliveryIds });
}

/** Settles a confirmed shipment and sends the trade_manage_order_settlement push with settlement_time. */
function settle(s: SimState, order: Order, shipment: Shipment, mode: ReturnType<typeof readNotifyMode>): string[] {
  shipment.settledAt = s.now();
  if (mode.notify === "none") return [];
  return sendPush(s, "trade_manage_order_settlement", settlementFields(order, shipment, "settled"), order, mode);
}

/** POST /__sim/shipping/confirm: the user (or the automatic rule) confirms receipt; settles by default. */
async function confirmRoute(s: SimState, b: Record<string, unknown>): Promise<Response> {
  const { order, shipment } = target(s, b);
  const method = b.method ?? "manual";
  if (method !== "manual" && method !== "auto") throw badRequest("method must be manual or auto");
  const settleToo = b.settle ?? true;
  if (typeof settleToo !== "boolean") throw badRequest("settle must be a boolean");
  const mode = readNotifyMode(b);
  const sh = shippedShipment(order, shipment, [2]);
  if (settleToo && mode.notify !== "none") assertPushReady(s, order);
  sh.confirmedAt = s.now();
  sh.confirmMethod = method === "auto" ? 1 : 2;
  s.log(`shipping ${order.outTradeNo} → receipt confirmed (${method})`);
  return answer(s, order, settleToo ? settle(s, order, sh, mode) : []);
}

/** POST /__sim/shipping/settle: WeChat settles a confirmed order. */
async function settleRoute(s: SimState, b: Record<string, unknown>): Promise<Response> {
  const { order, shipment } = target(s, b);
  const mode = readNotifyMode(b);
  const sh = shippedShipment(order, shipment, [3]);
  if (mode.notify !== "none") assertPushReady(s, order);
  return answer(s, order, settle(s, order, sh, mode));
}

/** POST /__sim/shipping/notify-shipped: the shipping-time trade_manage_order_settlement push (no settlement_time). */
async function notifyShippedRoute(s: SimState, b: Record<string, unknown>): Promise<Response> {
  const { order, shipment } = target(s, b);
  const est = b.estimatedSettlementTime;
  if (est !== undefined && (typeof est !== "number" || !Number.isInteger(est) || est <= 0)) throw badRequest("estimatedSettlementTime must be epoch seconds");
  const sh = shippedShipment(order, shipment, [2, 3]);
  return answer(s, order, pushShipped(s, order, sh, est === undefined ? undefined : est * 1000, readNotifyMode(b)));
}

/** POST /__sim/shipping/remind: trade_manage_remind_access_api, or trade_manage_remind_shipping for an order. */
async function remindRoute(s: SimState, b: Record<string, unknown>): Promise<Response> {
  const event = b.event as PushEvent;
  if (event !== "trade_manage_remind_access_api" && event !== "trade_manage_remind_shipping") throw badRequest("event must be trade_manage_remind_access_api or trade_manage_remind_shipping");
  if (b.msg !== undefined && typeof b.msg !== "string") throw badRequest("msg must be a string");
  const msg = b.msg as string | undefined;
  const mode = readNotifyMode(b);
  if (event === "trade_manage_remind_access_api") return jsonResponse({ event, deliveryIds: sendPush(s, event, remindAccessApiFields(msg), null, mode) });
  const { order } = target(s, b);
  return jsonResponse({ event, transactionId: order.transactionId, deliveryIds: sendPush(s, event, remindShippingFields(order, msg), order, mode) });
}

/** The push configuration as tests may see it: never the Token or the key. */
function pushView(s: SimState) {
  return { url: s.push.url, format: s.push.format, mode: s.push.aesKey ? "safe" : "plain", tokenSet: s.push.token !== null, originalId: s.originalId(), events: PUSH_EVENTS };
}

/** POST /__sim/push: change the push configuration ({url, token, aesKey: null to unset; format}); checked before anything changes. */
async function pushConfigRoute(s: SimState, b: Record<string, unknown>): Promise<Response> {
  const next = { ...s.push };
  const nullable = (k: "url" | "token" | "aesKey", ok: (v: string) => boolean, what: string) => {
    if (!(k in b)) return;
    const v = b[k];
    if (v !== null && (typeof v !== "string" || !ok(v))) throw badRequest(`${k} must be ${what} or null`);
    next[k] = v as string | null;
  };
  nullable("url", (v) => /^https?:\/\/[^/]/.test(v) && URL.canParse(v), "an absolute http(s) URL");
  nullable("token", (v) => /^[A-Za-z0-9]{3,32}$/.test(v), "3 to 32 letters or digits (WeChat's Token rule)");
  nullable("aesKey", isEncodingAesKey, "a 43-character EncodingAESKey");
  if (b.format !== undefined) {
    if (b.format !== "json" && b.format !== "xml") throw badRequest("format must be json or xml");
    next.format = b.format;
  }
  s.push = next;
  return jsonResponse(pushView(s));
}

/** A route whose handler takes the JSON body. */
const withBody = (handle: (s: SimState, b: Record<string, unknown>) => Promise<Response>): ControlRoute["handle"] => async (s, c) => handle(s, await readJson(c));

/** The shipping, push and token control routes, in the order GET /__sim/ lists them. */
export const SHIPPING_ROUTES: ControlRoute[] = [
  { method: "GET", path: "/__sim/shipping/settings", description: "is_trade_managed and is_trade_management_confirmation_completed answers", handle: (s) => jsonResponse({ tradeManaged: s.tradeManaged, confirmationCompleted: s.confirmationCompleted }) },
  {
    method: "POST",
    path: "/__sim/shipping/settings",
    description: "switch is_trade_managed ({tradeManaged}) and confirmation completed ({confirmationCompleted}); not managed → upload/get_order answer 48001",
    handle: withBody(async (s, b) => {
      for (const k of ["tradeManaged", "confirmationCompleted"]) if (b[k] !== undefined && typeof b[k] !== "boolean") throw badRequest(`${k} must be a boolean`);
      if (typeof b.tradeManaged === "boolean") s.tradeManaged = b.tradeManaged;
      if (typeof b.confirmationCompleted === "boolean") s.confirmationCompleted = b.confirmationCompleted;
      return jsonResponse({ tradeManaged: s.tradeManaged, confirmationCompleted: s.confirmationCompleted });
    }),
  },
  { method: "POST", path: "/__sim/shipping/confirm", description: "the user confirms receipt of a shipped order ({transactionId, method?, settle?}); settling sends trade_manage_order_settlement with settlement_time", handle: withBody(confirmRoute) },
  { method: "POST", path: "/__sim/shipping/settle", description: "WeChat settles a confirmed order and sends trade_manage_order_settlement with settlement_time", handle: withBody(settleRoute) },
  { method: "POST", path: "/__sim/shipping/notify-shipped", description: "the shipping-time trade_manage_order_settlement push: estimated_settlement_time, no settlement_time", handle: withBody(notifyShippedRoute) },
  { method: "POST", path: "/__sim/shipping/remind", description: "send trade_manage_remind_access_api, or trade_manage_remind_shipping for {transactionId}", handle: withBody(remindRoute) },
  {
    method: "GET",
    path: "/__sim/shipping/:transactionId",
    description: "one paid order as get_order shows it, plus outTradeNo and reshipUsed",
    handle: (s, c) => {
      const { order, shipment } = target(s, { transactionId: c.req.param("transactionId") });
      return jsonResponse({ outTradeNo: order.outTradeNo, reshipUsed: shipment?.reshipUsed ?? false, order: orderView(s, order) });
    },
  },
  { method: "GET", path: "/__sim/push", description: "the message push configuration (url, format, plain or safe mode; never the Token or key)", handle: (s) => jsonResponse(pushView(s)) },
  { method: "POST", path: "/__sim/push", description: "change the message push configuration {url?, token?, aesKey?, format?} until the next reset", handle: withBody(pushConfigRoute) },
  { method: "GET", path: "/__sim/tokens", description: "the current access token (last 6 characters), issued count and today's force refreshes", handle: (s) => jsonResponse(s.tokens.view(s.now())) },
  { method: "POST", path: "/__sim/tokens/expire", description: "expire every access token now (calls with them answer 42001)", handle: (s) => jsonResponse({ expired: s.tokens.expireAll(s.now()) }) },
];
