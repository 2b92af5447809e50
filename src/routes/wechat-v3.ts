/**
 * /wechat/v3/*: WeChat Pay API v3 notifications, mounted by routes/wechat.ts ahead of its XML
 * routes. JSON in; out, 200 with no body or `{"code":"FAIL","message"}`
 * (https://pay.weixin.qq.com/doc/v3/merchant/4012075420): no valid config → 503, a body over
 * MAX_CALLBACK_BYTES → 413 (before reading it), an unknown path → 404, anything but POST → 405, a
 * failure of ours (D1) → 500. WeChat retries every refusal.
 */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { logEvent, logUnhandledError } from "../log";
import type { Deps } from "../orders/deps";
import type { V3NotifyReply } from "../orders/v3/callback";
import { handlePayNotifyV3 } from "../orders/v3/pay-notify";
import { handleRefundNotifyV3 } from "../orders/v3/refund-notify";
import { callbackAck, callbackRefusal, MAX_CALLBACK_BYTES } from "../wechatpay/v3/callback";
import { requireConfig } from "./config-guard";
import type { AppEnv } from "./types";

export const wechatV3Routes = new Hono<AppEnv>();

wechatV3Routes.use(
  "*",
  requireConfig(() => callbackRefusal(503, "service unavailable")),
  bodyLimit({ maxSize: MAX_CALLBACK_BYTES, onError: () => callbackRefusal(413, "payload too large") }),
);

/**
 * Mounts one v3 notification: POST hands the headers and the raw body, read once as text before
 * anything parses it, to `handle`, and logs its outcome. WeChat only ever POSTs.
 */
function v3Callback(path: string, event: string, handle: (deps: Deps, headers: Headers, body: string) => Promise<V3NotifyReply>): void {
  wechatV3Routes.post(path, async (c: Context<AppEnv>) => {
    const started = Date.now();
    const reply = await handle(c.var.deps, c.req.raw.headers, await c.req.text());
    logEvent(event, { outcome: reply.outcome, status: reply.status, outTradeNo: reply.outTradeNo, ms: Date.now() - started });
    return reply.status === 200 ? callbackAck() : callbackRefusal(reply.status, reply.message ?? "failed");
  });
  wechatV3Routes.all(path, (c) => c.body(null, 405, { Allow: "POST" }));
}

v3Callback("/pay/notify", "pay_notify_v3", handlePayNotifyV3);
v3Callback("/refund/notify", "refund_notify_v3", handleRefundNotifyV3);

// After every callback: unknown paths under /wechat/v3/ (see routes/wechat.ts for why "/:path{.*}").
wechatV3Routes.all("/:path{.*}", () => callbackRefusal(404, "not found"));

wechatV3Routes.onError((error, c) => {
  if (error instanceof HTTPException && error.status < 500) return callbackRefusal(error.status, "invalid request");
  logUnhandledError(c.req.path, error);
  return callbackRefusal(500, "internal error");
});
