/** WeChat → us: raw XML in, raw XML out, always `Content-Type: text/xml`. */
import { Hono } from "hono/tiny";
import { logEvent } from "../log";
import type { Deps } from "../orders/deps";
import type { NotifyReply } from "../orders/notify-reply";
import { handlePayNotify } from "../orders/pay-notify";
import { handleRefundNotify } from "../orders/refund-notify";
import type { AppEnv } from "./types";

export const wechatRoutes = new Hono<AppEnv>();

/**
 * Mounts one callback: POST runs `handle` on the raw bytes (the content type is not trusted either
 * way: the body must be XML) and logs its outcome; WeChat only ever POSTs, so anything else is a 405
 * that touches no state.
 */
function callback(path: string, event: string, handle: (deps: Deps, body: ArrayBuffer) => Promise<NotifyReply>): void {
  wechatRoutes.post(path, async (c) => {
    const started = Date.now();
    const reply = await handle(c.var.deps, await c.req.arrayBuffer());
    logEvent(event, { outcome: reply.outcome, status: reply.status, outTradeNo: reply.outTradeNo, ms: Date.now() - started });
    return c.body(reply.xml, reply.status, { "Content-Type": "text/xml; charset=utf-8" });
  });
  wechatRoutes.all(path, (c) => c.body(null, 405, { Allow: "POST" }));
}

callback("/pay/notify", "pay_notify", handlePayNotify);
callback("/refund/notify", "refund_notify", handleRefundNotify);
