// Production hardening at the HTTP level: config self-check on /health, abuse limits (429 +
// Retry-After), security headers and request ids, JSON body rules, no internals in any response,
// and logs that never carry secrets, tokens, session keys or notification bodies.
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { ORIGIN, api, createOrder, login, payNotifyFields, putProduct, rows, signedNotifyXml } from "./harness";

afterEach(() => vi.restoreAllMocks());

const health = async (overrides: Record<string, unknown>) => {
  const res = await app.request(`${ORIGIN}/health`, {}, { ...env, ...overrides });
  return { status: res.status, body: (await res.json()) as any };
};

describe("config self-check", () => {
  it("GET /health is ok with the test config and runs the signing self-test", async () => {
    const res = await exports.default.fetch(`${ORIGIN}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("names each problem (never a value) and every other route answers 503 CONFIG_ERROR", async () => {
    const { status, body } = await health({
      WECHAT_PAY_KEY: "too-short-secret-value",
      SESSION_SECRET: "short",
      WECHAT_NOTIFY_URL: "http://shop.example/wechat/pay/notify?x=1",
      WECHAT_SIGN_TYPE: "SHA1",
      ORDER_TTL_MINUTES: "500",
      WECHAT_APP_SECRET: undefined,
    });
    expect(status).toBe(503);
    expect(body.ok).toBe(false);
    const text = body.problems.join("\n");
    for (const name of ["WECHAT_PAY_KEY", "SESSION_SECRET", "WECHAT_NOTIFY_URL", "WECHAT_SIGN_TYPE", "ORDER_TTL_MINUTES", "WECHAT_APP_SECRET"]) {
      expect(text).toContain(name);
    }
    expect(text).not.toContain("too-short-secret-value");
    const other = await app.request(`${ORIGIN}/api/products`, {}, { ...env, WECHAT_PAY_KEY: "x" });
    expect(other.status).toBe(503);
    expect(await other.json()).toEqual({ error: { code: "CONFIG_ERROR", message: expect.any(String) } });
    const notify = await app.request(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body: "<xml/>" }, { ...env, WECHAT_PAY_KEY: "x" });
    expect(notify.status).toBe(503);
    expect(await notify.text()).toContain("FAIL");
  });

  it("pointing at WeChat's production host requires WXPAY_CERT, https notify URLs and non-example secrets", async () => {
    const { status, body } = await health({
      WECHAT_PAY_BASE: "https://api.mch.weixin.qq.com",
      WECHAT_NOTIFY_URL: "http://shop.example/wechat/pay/notify",
      SESSION_SECRET: "local-session-secret-change-me-in-production-0123456789",
    });
    expect(status).toBe(503);
    const text = body.problems.join("\n");
    expect(text).toContain("WXPAY_CERT");
    expect(text).toContain("WECHAT_NOTIFY_URL must use https");
    expect(text).toContain("WECHAT_PAY_KEY is a public example key");
    expect(text).toContain("SESSION_SECRET is the example value");
    const withCert = await health({
      WECHAT_PAY_BASE: "https://api.mch.weixin.qq.com",
      WXPAY_CERT: { fetch: () => new Response("") },
      WECHAT_PAY_KEY: "k".repeat(32),
      WECHAT_NOTIFY_URL: "https://shop.example/wechat/pay/notify",
      MERCHANT_WEBHOOK_URL: "https://shop.example/webhooks",
      // The tests' pinned Access team is a local stand-in; production needs Cloudflare's own.
      ACCESS_TEAM_DOMAIN: "https://shop.cloudflareaccess.com",
    });
    expect(withCert).toEqual({ status: 200, body: { ok: true } });
  });

  it("ADMIN_TOKEN must be usable as a bearer token: a space or other characters are a named problem", async () => {
    for (const adminToken of ["admin token with spaces", "admin-token-0123456789!", "admin-token-01234567\u00e9"]) {
      const { status, body } = await health({ ADMIN_TOKEN: adminToken });
      expect(status).toBe(503);
      expect(body.problems).toEqual([expect.stringContaining("ADMIN_TOKEN must use only")]);
    }
    expect(await health({ ADMIN_TOKEN: "Abc-123._~+/admin-token==" })).toEqual({ status: 200, body: { ok: true } });
  });
});

describe("abuse limits", () => {
  it("logins per client IP: the 4th within a minute on a 3/min limiter → 429 RATE_LIMITED + Retry-After", async () => {
    const limited = { ...env, LOGIN_LIMITER: env.TIGHT_LIMITER };
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await app.request(`${ORIGIN}/api/login`, { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": ip }, body: JSON.stringify({ code: `rl-${i}-${Date.now()}` }) }, limited);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.headers.get("retry-after")).toBe("60");
    expect(await last!.json()).toEqual({ error: { code: "RATE_LIMITED", message: expect.any(String) } });
    // Another IP is not affected.
    const other = await app.request(`${ORIGIN}/api/login`, { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.77" }, body: JSON.stringify({ code: `rl-other-${Date.now()}` }) }, limited);
    expect(other.status).toBe(200);
  });

  it("order creations per user: over the limit → 429 and no order row, no unifiedorder", async () => {
    await putProduct("rl-item", "Rate-limited item", 10);
    const token = await login(`rluser${Date.now()}`);
    const limited = { ...env, ORDER_LIMITER: env.TIGHT_LIMITER };
    const post = () => app.request(`${ORIGIN}/api/orders`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ items: [{ sku: "rl-item", quantity: 1 }] }) }, limited);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post()).status);
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3);
    expect(statuses.at(-1)).toBe(429);
    const created = await rows("SELECT COUNT(*) AS n FROM orders o JOIN order_items i ON i.out_trade_no = o.out_trade_no WHERE i.sku = 'rl-item'");
    expect(created[0].n).toBe(statuses.filter((s) => s === 201).length);
  });

  it("concurrent logins with the same code make one jscode2session call", async () => {
    const code = `twin-${Date.now()}`;
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const replies = await Promise.all([0, 1, 2].map(() => app.request(`${ORIGIN}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code }) }, env)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    const calls = fetchSpy.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input).includes("/sns/jscode2session"));
    expect(calls).toHaveLength(1);
  });
});

describe("responses", () => {
  it("every response has a request id and security headers; an incoming request id is echoed", async () => {
    for (const path of ["/health", "/api/products", "/nope"]) {
      const res = await exports.default.fetch(`${ORIGIN}${path}`);
      await res.text();
      expect(res.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBeTruthy();
      expect(res.headers.get("strict-transport-security")).toContain("max-age");
    }
    const echoed = await exports.default.fetch(`${ORIGIN}/health`, { headers: { "x-request-id": "abc-123-def-456" } });
    expect(echoed.headers.get("x-request-id")).toBe("abc-123-def-456");
  });

  it("JSON bodies: > 16 KiB → 413, wrong content type → 415, unknown fields ignored, errors name the field", async () => {
    const token = await login("jsonrules");
    const big = await api("POST", "/api/orders", { token, body: { items: [{ sku: "x", quantity: 1 }], pad: "a".repeat(17 * 1024) } });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    const form = await api("POST", "/api/orders", { token, body: "items=1", headers: { "content-type": "text/plain" } });
    expect(form.status).toBe(415);
    const named = await api("POST", "/api/orders", { token, body: { items: [{ sku: "x", quantity: "1" }] } });
    expect(named.status).toBe(400);
    expect(named.body.error.message).toContain("items[0].quantity");
    const array = await api("POST", "/api/orders", { token, body: [] });
    expect(array.status).toBe(400);
  });

  it("an internal failure answers a generic 500 without stack traces or internal messages", async () => {
    const broken = { ...env, DB: new Proxy(env.DB, { get: (t, p) => (p === "prepare" ? () => { throw new Error("D1_ERROR: secret internal detail at line 42"); } : Reflect.get(t, p)) }) };
    const res = await app.request(`${ORIGIN}/api/products`, {}, broken);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    expect(text).not.toMatch(/D1_ERROR|secret|line 42|at /);
  });
});

describe("WeChat callbacks answer every refusal and failure in WeChat's XML, never JSON", () => {
  const fail = (msg: string) => `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[${msg}]]></return_msg></xml>`;
  const send = async (path: string, init: RequestInit = {}, overrides: Record<string, unknown> = {}) => {
    const res = await app.request(`${ORIGIN}${path}`, init, { ...env, ...overrides });
    return { status: res.status, type: res.headers.get("content-type"), allow: res.headers.get("allow"), text: await res.text() };
  };
  const xmlFail = (status: number, msg: string) => ({ status, type: "text/xml; charset=utf-8", allow: null, text: fail(msg) });

  it("no valid config → 503, a body over 32 KiB (streamed, no Content-Length) → 413, unknown path → 404", async () => {
    expect(await send("/wechat/pay/notify", { method: "POST", body: "<xml/>" }, { WECHAT_PAY_KEY: "x" })).toEqual(xmlFail(503, "service unavailable"));
    const chunk = new TextEncoder().encode("<xml>".padEnd(8192, " "));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({ pull: (c) => (sent++ < 8 ? c.enqueue(chunk) : c.close()) });
    expect(await send("/wechat/refund/notify", { method: "POST", body: stream })).toEqual(xmlFail(413, "payload too large"));
    for (const [method, path] of [["POST", "/wechat/nope"], ["GET", "/wechat/"], ["POST", "/wechat/pay/notify/extra"]]) {
      expect(await send(path!, { method })).toEqual(xmlFail(404, "not found"));
    }
    // Outside /wechat/ the JSON error contract holds.
    for (const path of ["/wechat", "/nope", "/api/nope"]) {
      const reply = await send(path, { method: "POST" });
      expect(reply.status).toBe(404);
      expect(JSON.parse(reply.text)).toEqual({ error: { code: "NOT_FOUND", message: "no such route" } });
    }
  });

  it("anything but POST on a callback → 405 with Allow: POST and no body", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) {
      expect(await send("/wechat/refund/notify", { method })).toEqual({ status: 405, type: null, allow: "POST", text: "" });
    }
  });

  it("a failure of ours (here the request body breaks while being read) → 500 FAIL, logged as unhandled_error", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    const stream = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new Error("connection reset")) });
    expect(await send("/wechat/pay/notify", { method: "POST", body: stream })).toEqual(xmlFail(500, "internal error"));
    expect(lines.some((l) => l.includes('"event":"unhandled_error"') && l.includes('"path":"/wechat/pay/notify"'))).toBe(true);
  });
});

describe("logs", () => {
  it("carry the request id and route, and never secrets, tokens, session keys or notification bodies", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    await putProduct("log-item", "Log item", 11);
    const token = await login("logger");
    const { body } = await createOrder(token, [{ sku: "log-item", quantity: 1 }]);
    const xml = signedNotifyXml(payNotifyFields({ outTradeNo: body.order.outTradeNo, totalFee: 11 }));
    await exports.default.fetch(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body: xml });
    await exports.default.fetch(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body: "<xml><bad" });
    await api("POST", "/api/login", { body: { code: `bad-${Date.now()}` } });
    const [user] = await rows("SELECT session_key FROM users u JOIN orders o ON o.user_id = u.id WHERE o.out_trade_no = ?", body.order.outTradeNo);
    const all = lines.join("\n");
    expect(lines.some((l) => l.includes('"event":"request"') && l.includes('"requestId"') && l.includes('"route":"/api/orders"'))).toBe(true);
    expect(all).toContain(body.order.outTradeNo); // outcomes are traceable by out_trade_no
    for (const secret of [env.WECHAT_PAY_KEY, env.WECHAT_APP_SECRET, env.SESSION_SECRET, env.ADMIN_TOKEN, token, user.session_key, body.payment.paySign]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toContain("<xml>");
    expect(all).not.toContain("CDATA");
    for (const line of lines.filter((l) => l.startsWith("{"))) expect(() => JSON.parse(line)).not.toThrow();
  });
});
