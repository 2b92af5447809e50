/**
 * /wechat/*: WeChat → us, mounted by app.ts. API v3's JSON notifications live under /wechat/v3
 * (routes/wechat-v3.ts). Everything else: raw XML in, raw XML out, and every refusal or failure is
 * WeChat's FAIL XML with `Content-Type: text/xml`, never JSON: no valid config → 503 and a failure of
 * ours → 500 (WeChat retries both), a body over MAX_XML_BYTES → 413, an unknown path → 404; anything
 * but POST on a callback → 405.
 */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { logEvent, logUnhandledError } from "../log";
import type { Deps } from "../orders/deps";
import type { NotifyReply } from "../orders/notify-reply";
import { handlePayNotify } from "../orders/pay-notify";
import { handlePush, verifyPushUrl } from "../orders/push";
import { handleRefundNotify } from "../orders/refund-notify";
import { MAX_XML_BYTES, failXml } from "../wechatpay/xml";
import { requireConfig } from "./config-guard";
import { wechatV3Routes } from "./wechat-v3";
import type { AppEnv } from "./types";

const XML_HEADERS = { "Content-Type": "text/xml; charset=utf-8" };
const fail = (c: Context, status: ContentfulStatusCode, message: string) => c.body(failXml(message), status, XML_HEADERS);

export const wechatRoutes = new Hono<AppEnv>();

// API v3's JSON notifications first, so none of the XML middleware or answers below applies to them.
wechatRoutes.route("/v3", wechatV3Routes);

wechatRoutes.use(
  "*",
  requireConfig((c) => fail(c, 503, "service unavailable")),
  bodyLimit({ maxSize: MAX_XML_BYTES, onError: (c) => fail(c, 413, "payload too large") }),
);

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
    return c.body(reply.xml, reply.status, XML_HEADERS);
  });
  wechatRoutes.all(path, (c) => c.body(null, 405, { Allow: "POST" }));
}

callback("/pay/notify", "pay_notify", handlePayNotify);
callback("/refund/notify", "refund_notify", handleRefundNotify);

// The mini-program message push: plain-text answers ("success", the echoed echostr), as WeChat expects.
const pushQuery = (c: Context<AppEnv>) => c.req.query();
wechatRoutes.get("/miniprogram/push", async (c) => {
  const reply = await verifyPushUrl(c.var.deps, pushQuery(c));
  logEvent("miniprogram_push", { outcome: reply.outcome, status: reply.status });
  return c.text(reply.body, reply.status);
});
wechatRoutes.post("/miniprogram/push", async (c) => {
  const reply = await handlePush(c.var.deps, pushQuery(c), await c.req.arrayBuffer());
  logEvent("miniprogram_push", { outcome: reply.outcome, status: reply.status });
  return c.text(reply.body, reply.status);
});
wechatRoutes.all("/miniprogram/push", (c) => c.body(null, 405, { Allow: "GET, POST" }));

// A mounted app's notFound is never consulted (the parent routes the request), so unknown paths
// under /wechat/ get this catch-all, registered after every callback. "/:path{.*}" rather than "*":
// it leaves "/wechat" itself to app.ts's JSON 404, as for any path outside /wechat/.
wechatRoutes.all("/:path{.*}", (c) => fail(c, 404, "not found"));

// app.route() wraps every handler above in this boundary, so no error reaches app.ts's JSON one.
wechatRoutes.onError((error, c) => {
  if (error instanceof HTTPException && error.status < 500) return fail(c, error.status, "invalid request");
  logUnhandledError(c.req.path, error);
  return fail(c, 500, "internal error");
});
