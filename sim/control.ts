// The control API under /__sim/ (JSON in and out), a small Hono app: it plays the user (pays orders,
// completes refunds), lets tests inspect the simulator (orders, refunds, received requests,
// deliveries) and perturb it (faults, clock, reset). GET /__sim/ lists every endpoint from ROUTES.
// Refusals are 4xx `{"error": "...", "code": "..."}`.
import { Hono } from "hono";
import type { Context } from "hono";
import { badRequest, named, readJson } from "./control-kit.ts";
import type { ControlRoute } from "./control-kit.ts";
import { FAULTS, addFault, faultRefusal } from "./faults.ts";
import type { Fault, FaultKind } from "./faults.ts";
import { NotifierError } from "./notifier.ts";
import type { Delivery } from "./notifier.ts";
import { payInWechat } from "./payment.ts";
import { ALL_PATHS } from "./paths.ts";
import { SHIPPING_ROUTES } from "./shipping-control.ts";
import { completeRefund, refundedFee } from "./refunds.ts";
import { ControlError, jsonResponse } from "./replies.ts";
import type { Order, Refund, SimState } from "./state.ts";
import { beijingDashed } from "./time.ts";
import { prepayExpiresAt } from "./trades.ts";
import { V3_CONTROL_ROUTES } from "./v3/control.ts";

// ───── JSON views ─────

function refundView(r: Refund) {
  return {
    api: r.api,
    outRefundNo: r.outRefundNo,
    refundId: r.refundId,
    outTradeNo: r.outTradeNo,
    transactionId: r.transactionId,
    totalFee: r.totalFee,
    refundFee: r.refundFee,
    status: r.status,
    createdAt: r.createdAt,
    successTime: r.successAt === null ? null : beijingDashed(r.successAt),
    notifyUrl: r.notifyUrl,
    refundDesc: r.refundDesc,
  };
}

function orderView(s: SimState, order: Order) {
  return {
    api: order.api,
    outTradeNo: order.outTradeNo,
    appId: order.appId,
    mchId: order.mchId,
    state: order.state,
    totalFee: order.totalFee,
    body: order.body,
    attach: order.attach,
    openid: order.openid,
    tradeType: order.tradeType,
    signType: order.signType,
    notifyUrl: order.notifyUrl,
    prepayId: order.prepayId,
    prepayIssuedAt: order.prepayIssuedAt,
    prepayExpiresAt: prepayExpiresAt(s, order.prepayIssuedAt),
    timeStart: order.timeStart || null,
    timeExpire: order.timeExpire || null,
    /** the deadline in force (epoch ms): v3 moves time_expire into [+1 min, +90 days] and defaults it to 7 days */
    timeExpireAt: order.timeExpireMs,
    createdAt: order.createdAt,
    transactionId: order.transactionId,
    timeEnd: order.timeEnd,
    paidAt: order.paidAt,
    closedAt: order.closedAt,
    refundedFee: refundedFee(order),
    refunds: order.refunds.map(refundView),
  };
}

function deliveryView(d: Delivery) {
  return {
    id: d.id,
    kind: d.kind,
    api: d.api,
    event: d.event,
    url: d.url,
    contentType: d.contentType,
    outTradeNo: d.outTradeNo,
    outRefundNo: d.outRefundNo,
    copy: d.copy,
    status: d.status,
    acknowledged: d.status === "acknowledged",
    createdAt: d.createdAt,
    nextAttemptAt: d.nextAttemptAt,
    body: d.body,
    attempts: d.attempts,
  };
}

async function completeRefundRoute(s: SimState, c: Context): Promise<Response> {
  const b = await readJson(c);
  const r = typeof b.outRefundNo === "string" ? s.refundsByNo.get(b.outRefundNo) : undefined;
  if (!r) throw new ControlError(404, "UNKNOWN_REFUND", `unknown outRefundNo ${JSON.stringify(b.outRefundNo)}`);
  // the v3 names CLOSED and ABNORMAL are the v2 REFUNDCLOSE and CHANGE
  const status = ({ CLOSED: "REFUNDCLOSE", ABNORMAL: "CHANGE" } as Record<string, string>)[b.status as string] ?? b.status ?? "SUCCESS";
  if (status !== "SUCCESS" && status !== "REFUNDCLOSE" && status !== "CHANGE") throw badRequest("status must be SUCCESS, REFUNDCLOSE (v3: CLOSED) or CHANGE (v3: ABNORMAL)");
  const notify = b.notify ?? "normal";
  if (notify !== "normal" && notify !== "none") throw badRequest("notify must be normal or none");
  if (r.status !== "PROCESSING" && r.status !== "CHANGE") throw new ControlError(409, "REFUND_FINAL", `refund ${r.outRefundNo} is already ${r.status}`);
  const deliveryIds = completeRefund(s, r, status, notify);
  s.log(`refund ${r.outRefundNo} → ${status}, ${deliveryIds.length} notification(s)`);
  return jsonResponse({ outRefundNo: r.outRefundNo, refundId: r.refundId, status: r.status, deliveryIds });
}

async function addFaultRoute(s: SimState, c: Context): Promise<Response> {
  const b = await readJson(c);
  if (typeof b.path !== "string" || !ALL_PATHS.includes(b.path)) throw badRequest(`path must be one of ${ALL_PATHS.join(", ")}`);
  if (!(FAULTS as readonly unknown[]).includes(b.fault)) throw badRequest(`fault must be one of ${FAULTS.join(", ")}`);
  const refusal = faultRefusal(b.path, b.fault as FaultKind);
  if (refusal) throw badRequest(refusal);
  const times = b.times ?? 1;
  if (typeof times !== "number" || !Number.isInteger(times) || times < 1) throw badRequest("times must be a positive integer");
  const fault: Fault = { fault: b.fault as FaultKind, remaining: times };
  if (typeof b.errCode === "string") fault.errCode = b.errCode;
  if (typeof b.errCodeDes === "string") fault.errCodeDes = b.errCodeDes;
  if (b.status !== undefined) {
    if (typeof b.status !== "number" || !Number.isInteger(b.status) || b.status < 400 || b.status > 599) throw badRequest("status must be an HTTP error status (400..599)");
    fault.status = b.status;
  }
  return jsonResponse({ path: b.path, faults: addFault(s, b.path, fault) });
}

async function deliveryResultRoute(s: SimState, c: Context): Promise<Response> {
  const b = await readJson(c);
  if (typeof b.error !== "string" && typeof b.status !== "number") throw badRequest('body must be {"status": number, "body": string} or {"error": string}');
  return jsonResponse(
    s.notifier.report(c.req.param("id") as string, {
      status: typeof b.status === "number" ? b.status : undefined,
      body: typeof b.body === "string" ? b.body : "",
      error: typeof b.error === "string" ? b.error : undefined,
    }),
  );
}

async function advanceClockRoute(s: SimState, c: Context): Promise<Response> {
  const b = await readJson(c);
  if (typeof b.advanceSeconds !== "number" || !Number.isFinite(b.advanceSeconds) || b.advanceSeconds < 0) throw badRequest("advanceSeconds must be a non-negative number");
  s.offsetMs += Math.round(b.advanceSeconds * 1000);
  s.notifier.pump();
  return jsonResponse({ now: s.now(), offsetMs: s.offsetMs });
}

// ───── the endpoints ─────

const ROUTES: ControlRoute[] = [
  { method: "GET", path: "/__sim/", description: "this list of control endpoints", handle: () => jsonResponse({ endpoints: ROUTES.map(({ method, path, description }) => ({ method, path, description })) }) },
  { method: "POST", path: "/__sim/pay", description: "the user pays an order (wx.requestPayment): checks the paySign, sends the payment notification", handle: async (s, c) => jsonResponse(payInWechat(s, await readJson(c))) },
  { method: "POST", path: "/__sim/refunds/complete", description: "WeChat finishes a refund (SUCCESS, REFUNDCLOSE or CHANGE) and sends the refund notification", handle: completeRefundRoute },
  { method: "GET", path: "/__sim/refunds/:outRefundNo", description: "one refund", handle: (s, c) => jsonResponse(refundView(named(c, "outRefundNo", s.refundsByNo, "UNKNOWN_REFUND", "refund"))) },
  { method: "POST", path: "/__sim/faults", description: "queue a fault for the next calls to a path", handle: addFaultRoute },
  { method: "GET", path: "/__sim/faults", description: "the queued faults, by path", handle: (s) => jsonResponse({ faults: Object.fromEntries(s.faults) }) },
  {
    method: "GET",
    path: "/__sim/received",
    description: "the requests received (?path= filters: a path, or an API v3 route template), newest last",
    handle: (s, c) => {
      const p = new URL(c.req.url).searchParams.get("path");
      return jsonResponse({ requests: p ? s.received.filter((r) => r.path === p || r.route === p) : s.received });
    },
  },
  { method: "GET", path: "/__sim/orders", description: "every order with its refunds", handle: (s) => jsonResponse({ orders: [...s.orders.values()].map((o) => orderView(s, o)) }) },
  { method: "GET", path: "/__sim/orders/:outTradeNo", description: "one order with its refunds", handle: (s, c) => jsonResponse(orderView(s, named(c, "outTradeNo", s.orders, "UNKNOWN_ORDER", "order"))) },
  {
    method: "GET",
    path: "/__sim/deliveries",
    description: "every notification delivery with its attempts (?outTradeNo= and ?kind= pay|refund|push filter)",
    handle: (s, c) => {
      const q = new URL(c.req.url).searchParams;
      const ot = q.get("outTradeNo");
      const kind = q.get("kind");
      return jsonResponse({ deliveries: s.notifier.list().filter((d) => (!ot || d.outTradeNo === ot) && (!kind || d.kind === kind)).map(deliveryView) });
    },
  },
  {
    method: "POST",
    path: "/__sim/deliveries/take",
    description: "outbox mode: take the due deliveries (they become in flight)",
    handle: async (s, c) => {
      const b = await readJson(c);
      const max = b.max === undefined ? Infinity : b.max;
      if (typeof max !== "number" || max < 0) throw badRequest("max must be a non-negative number");
      return jsonResponse({ deliveries: s.notifier.take(max) });
    },
  },
  { method: "POST", path: "/__sim/deliveries/:id/result", description: "outbox mode: report the merchant's reply to a delivery", handle: deliveryResultRoute },
  { method: "GET", path: "/__sim/clock", description: "the simulator clock and its offset", handle: (s) => jsonResponse({ now: s.now(), offsetMs: s.offsetMs }) },
  { method: "POST", path: "/__sim/clock", description: "advance the simulator clock (makes retries due)", handle: advanceClockRoute },
  {
    method: "POST",
    path: "/__sim/openid",
    description: "the openid the simulator issues for a user (under an appid)",
    handle: async (s, c) => {
      const b = await readJson(c);
      if (typeof b.user !== "string" || b.user === "") throw badRequest("user must be a non-empty string");
      const appId = typeof b.appId === "string" && b.appId ? b.appId : s.options.appId;
      return jsonResponse({ openid: s.openidFor(b.user, appId), appId });
    },
  },
  {
    method: "POST",
    path: "/__sim/reset",
    description: "forget orders, codes, openids, tokens, shipments, requests, faults, deliveries, timers and the clock offset; settings and push configuration back to the options",
    handle: (s) => {
      s.reset();
      return jsonResponse({ ok: true });
    },
  },
  ...SHIPPING_ROUTES,
  ...V3_CONTROL_ROUTES,
  { method: "GET", path: "/__sim/health", description: "liveness and the configured appid, mch_id and delivery mode", handle: (s) => jsonResponse({ ok: true, appId: s.options.appId, mchId: s.options.mchId, delivery: s.options.delivery }) },
];

/**
 * The control API of one simulator: answers a /__sim/ request and logs one line for it. Refusals
 * (ControlError, NotifierError) become JSON errors; anything else is rethrown to the caller.
 */
export function createControl(s: SimState): (request: Request) => Promise<Response> {
  const app = new Hono();
  for (const r of ROUTES) app.on(r.method, r.path, (c) => r.handle(s, c));
  const notFound = (method: string, url: string) => new ControlError(404, "NOT_FOUND", `no control endpoint ${method} ${new URL(url).pathname}`);
  app.notFound((c) => {
    throw notFound(c.req.method, c.req.url);
  });
  app.onError((e) => {
    throw e; // answered (or passed on) below, so every refusal is logged the same way
  });
  return async (request) => {
    const route = `${request.method} ${new URL(request.url).pathname}`;
    try {
      // Hono would answer HEAD with the GET route; the control API has no HEAD endpoints
      if (request.method === "HEAD") throw notFound(request.method, request.url);
      const res = await app.fetch(request);
      s.log(`${route} → ${res.status}`);
      return res;
    } catch (e) {
      if (!(e instanceof ControlError) && !(e instanceof NotifierError)) throw e;
      s.log(`${route} → ${e.status} ${e.message}`);
      const code = e instanceof ControlError ? e.code : e.status === 404 ? "NOT_FOUND" : "CONFLICT";
      return jsonResponse({ error: e.message, code }, e.status);
    }
  };
}
