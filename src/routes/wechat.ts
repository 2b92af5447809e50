/** WeChat → us: raw XML in, raw XML out, always `Content-Type: text/xml`. */
import { Hono } from "hono/tiny";
import { logEvent } from "../log";
import { handlePayNotify } from "../orders/pay-notify";
import { handleRefundNotify } from "../orders/refund-notify";
import type { AppEnv } from "./types";

export const wechatRoutes = new Hono<AppEnv>();

wechatRoutes.post("/pay/notify", async (c) => {
  const started = Date.now();
  // The content type is not trusted either way: the body is read as bytes and must be XML.
  const reply = await handlePayNotify(c.var.deps, await c.req.arrayBuffer());
  logEvent("pay_notify", { outcome: reply.outcome, status: reply.status, outTradeNo: reply.outTradeNo, ms: Date.now() - started });
  return c.body(reply.xml, reply.status, { "Content-Type": "text/xml; charset=utf-8" });
});

// WeChat only ever POSTs; anything else is refused without touching state.
wechatRoutes.all("/pay/notify", (c) => c.body(null, 405, { Allow: "POST" }));

wechatRoutes.post("/refund/notify", async (c) => {
  const started = Date.now();
  const reply = await handleRefundNotify(c.var.deps, await c.req.arrayBuffer());
  logEvent("refund_notify", { outcome: reply.outcome, status: reply.status, outTradeNo: reply.outTradeNo, ms: Date.now() - started });
  return c.body(reply.xml, reply.status, { "Content-Type": "text/xml; charset=utf-8" });
});

wechatRoutes.all("/refund/notify", (c) => c.body(null, 405, { Allow: "POST" }));
