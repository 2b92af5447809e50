/**
 * The Hono app: config check, body limits, route mounting and the error boundary (JSON under /api
 * and /admin, WeChat's XML under /wechat). No stack trace or internal message ever reaches a client.
 */
import { Hono } from "hono/tiny";
import { bodyLimit } from "hono/body-limit";
import { contextStorage } from "hono/context-storage";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { loadConfig } from "./config";
import { ApiError } from "./errors";
import { logEvent } from "./log";
import { buildDeps } from "./orders/deps";
import { adminRoutes } from "./routes/admin";
import { authRoutes } from "./routes/auth";
import { JSON_BODY_LIMIT } from "./routes/json";
import { orderRoutes } from "./routes/orders";
import { productRoutes } from "./routes/products";
import type { AppEnv } from "./routes/types";
import { wechatRoutes } from "./routes/wechat";
import { signingSelfTest } from "./wechatpay/self-test";
import { MAX_XML_BYTES, failXml } from "./wechatpay/xml";

const isWechatPath = (path: string) => path.startsWith("/wechat/");

function errorBody(code: string, message: string, extra: Record<string, string> = {}) {
  return { error: { code, message, ...extra } };
}

const xmlHeaders = { "Content-Type": "text/xml; charset=utf-8" };

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
  const problems = result.ok ? [] : [...result.problems];
  selfTest ??= signingSelfTest();
  for (const algorithm of await selfTest) problems.push(`signing self-test failed for ${algorithm}`);
  return problems.length === 0 ? c.json({ ok: true }) : c.json({ ok: false, problems }, 503);
});

/** Every other route needs a valid config; problems are reported by name on /health only. */
const withConfig = createMiddleware<AppEnv>(async (c, next) => {
  const result = loadConfig(c.env);
  if (!result.ok) {
    if (isWechatPath(c.req.path)) return c.body(failXml("service unavailable"), 503, xmlHeaders);
    return c.json(errorBody("CONFIG_ERROR", "the service is not configured; see GET /health"), 503);
  }
  c.set("config", result.config);
  c.set("deps", buildDeps(c.env, result.config));
  await next();
});

const tooLarge = (limit: number) =>
  bodyLimit({
    maxSize: limit,
    onError: (c) =>
      isWechatPath(c.req.path)
        ? c.body(failXml("payload too large"), 413, xmlHeaders)
        : c.json(errorBody("PAYLOAD_TOO_LARGE", `body must be at most ${limit} bytes`), 413),
  });

app.use("/api/*", withConfig, tooLarge(JSON_BODY_LIMIT));
app.use("/admin/*", withConfig, tooLarge(JSON_BODY_LIMIT));
app.use("/wechat/*", withConfig, tooLarge(MAX_XML_BYTES));

app.route("/api", authRoutes);
app.route("/api", productRoutes);
app.route("/api", orderRoutes);
app.route("/wechat", wechatRoutes);
app.route("/admin", adminRoutes);

app.notFound((c) => {
  if (isWechatPath(c.req.path)) return c.body(failXml("not found"), 404, xmlHeaders);
  return c.json(errorBody("NOT_FOUND", "no such route"), 404);
});

app.onError((error, c) => {
  if (error instanceof ApiError) {
    return c.json(errorBody(error.code, error.message, error.extra), error.status, error.headers);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return isWechatPath(c.req.path)
      ? c.body(failXml("invalid request"), error.status, xmlHeaders)
      : c.json(errorBody("BAD_REQUEST", "invalid request"), error.status);
  }
  // Our own failure (D1 down, a bug): WeChat must retry; clients get a generic message.
  logEvent("unhandled_error", { path: c.req.path, error: error instanceof Error ? `${error.name}: ${error.message}` : "unknown" });
  if (isWechatPath(c.req.path)) return c.body(failXml("internal error"), 500, xmlHeaders);
  return c.json(errorBody("INTERNAL", "internal error"), 500);
});
