/**
 * The Hono app: request ids, security headers and request logs for everything; /health; the config
 * guard, body limit and JSON error boundary of /api and /admin; and the /wechat sub-app, which owns
 * its XML answers (routes/wechat.ts). No stack trace or internal message ever reaches a client.
 */
import { Hono } from "hono/tiny";
import { bodyLimit } from "hono/body-limit";
import { contextStorage } from "hono/context-storage";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { loadConfig } from "./config";
import { ApiError } from "./errors";
import { logEvent, logUnhandledError } from "./log";
import { openOrderProblems } from "./orders/api-health";
import { adminRoutes } from "./routes/admin";
import { authRoutes } from "./routes/auth";
import { requireConfig } from "./routes/config-guard";
import { JSON_BODY_LIMIT } from "./routes/json";
import { orderRoutes } from "./routes/orders";
import { productRoutes } from "./routes/products";
import type { AppEnv } from "./routes/types";
import { SHIPPING_STATUS_KEY } from "./routes/shipping";
import { wechatRoutes } from "./routes/wechat";
import { signingSelfTest } from "./wechatpay/self-test";

function errorBody(code: string, message: string, extra: Record<string, string> = {}) {
  return { error: { code, message, ...extra } };
}

export const app = new Hono<AppEnv>();

// Every response carries X-Request-Id (an incoming one is kept if well-formed) and the usual
// security headers; every request is logged once, as JSON, with its route, status and latency.
app.use("*", requestId(), contextStorage(), secureHeaders());
app.use("*", async (c, next) => {
  const started = Date.now();
  await next();
  logEvent("request", { method: c.req.method, route: c.req.routePath, status: c.res.status, ms: Date.now() - started });
});

/** The signing self-test runs once per isolate: the result cannot change while the code does not. */
let selfTest: Promise<string[]> | undefined;

app.get("/health", async (c) => {
  const result = loadConfig(c.env);
  const problems = result.ok ? await openOrderProblems(c.env.DB, result.config) : [...result.problems];
  selfTest ??= signingSelfTest();
  for (const algorithm of await selfTest) problems.push(`signing self-test failed for ${algorithm}`);
  if (problems.length > 0) return c.json({ ok: false, problems }, 503);
  // Information, never a failure: WeChat's last word on the shipping-information service (kept by
  // GET /admin/shipping/status; /health itself never calls WeChat).
  const shipping = await c.env.NOTIFY_KV.get(SHIPPING_STATUS_KEY, "json").catch(() => null);
  return c.json(shipping ? { ok: true, shipping } : { ok: true });
});

// /api and /admin need a valid config and take JSON bodies of at most 16 KiB; /wechat has its own.
const jsonConfigGuard = requireConfig((c) =>
  c.json(errorBody("CONFIG_ERROR", "the service is not configured; see GET /health"), 503),
);
const jsonBodyLimit = bodyLimit({
  maxSize: JSON_BODY_LIMIT,
  onError: (c) => c.json(errorBody("PAYLOAD_TOO_LARGE", `body must be at most ${JSON_BODY_LIMIT} bytes`), 413),
});
app.use("/api/*", jsonConfigGuard, jsonBodyLimit);
app.use("/admin/*", jsonConfigGuard, jsonBodyLimit);

app.route("/api", authRoutes);
app.route("/api", productRoutes);
app.route("/api", orderRoutes);
app.route("/wechat", wechatRoutes);
app.route("/admin", adminRoutes);

app.notFound((c) => c.json(errorBody("NOT_FOUND", "no such route"), 404));

app.onError((error, c) => {
  if (error instanceof ApiError) {
    return c.json(errorBody(error.code, error.message, error.extra), error.status, error.headers);
  }
  // hono/bearer-auth refusals (routes/bearer.ts).
  if (error instanceof HTTPException && error.status === 401) {
    return c.json(errorBody("UNAUTHORIZED", "missing or invalid bearer token"), 401);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json(errorBody("BAD_REQUEST", "invalid request"), error.status);
  }
  // Our own failure (D1 down, a bug): clients get a generic message.
  logUnhandledError(c.req.path, error);
  return c.json(errorBody("INTERNAL", "internal error"), 500);
});
