// POST /api/login against the simulator's scripted codes (F10, B38), and every session-token
// variant of the catalogue (B40): only an HS256 token of ours with exp, unexpired, untampered, passes.
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { api, createOrder, login, putProduct, rows } from "./harness";

beforeAll(async () => {
  await putProduct("auth-item", "Auth item", 50);
});

describe("login", () => {
  it("exchanges a wx.login code for a session token and upserts the user without exposing session_key", async () => {
    const code = `lily-${Date.now()}`;
    const reply = await api("POST", "/api/login", { body: { code } });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), expiresIn: 7200 });
    const users = await rows("SELECT openid, session_key FROM users");
    const lily = users.filter((u) => u.session_key && JSON.stringify(reply.body).includes(u.session_key));
    expect(lily).toHaveLength(0);
    // The same person logging in again (new code, same prefix) is the same user.
    const before = (await rows("SELECT COUNT(*) AS n FROM users"))[0].n;
    await login("lily");
    await login("lily");
    expect((await rows("SELECT COUNT(*) AS n FROM users"))[0].n).toBe(before);
  });

  it("maps WeChat's errors: 40029/40163 → 401, 45011 → 429 + Retry-After, 40226 → 403, -1 → 502", async () => {
    const cases: [string, number, string][] = [
      [`bad-${Date.now()}`, 401, "INVALID_CODE"],
      [`ratelimit-${Date.now()}`, 429, "RATE_LIMITED"],
      [`risky-${Date.now()}`, 403, "RISKY_USER"],
      [`busy-${Date.now()}`, 502, "UPSTREAM_ERROR"],
    ];
    for (const [code, status, errorCode] of cases) {
      const reply = await api("POST", "/api/login", { body: { code } });
      expect(reply.status, code).toBe(status);
      expect(reply.body.error.code).toBe(errorCode);
      if (status === 429) expect(reply.headers.get("retry-after")).toBe("60");
    }
    const reused = `mia-${Date.now()}`;
    expect((await api("POST", "/api/login", { body: { code: reused } })).status).toBe(200);
    const again = await api("POST", "/api/login", { body: { code: reused } });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe("INVALID_CODE");
  });

  it("F10 a jscode2session timeout or garbage → 502 and no session minted", async () => {
    const users = (await rows("SELECT COUNT(*) AS n FROM users"))[0].n;
    vi.spyOn(globalThis, "fetch").mockResolvedValueOnce(new Response("<html>busy</html>", { status: 200 }));
    const garbage = await api("POST", "/api/login", { body: { code: `nina-${Date.now()}` } });
    expect(garbage.status).toBe(502);
    expect(garbage.body.error.code).toBe("UPSTREAM_ERROR");
    vi.spyOn(globalThis, "fetch").mockRejectedValueOnce(new DOMException("The operation timed out", "TimeoutError"));
    const timeout = await api("POST", "/api/login", { body: { code: `nina-${Date.now()}` } });
    expect(timeout.status).toBe(502);
    vi.restoreAllMocks();
    expect((await rows("SELECT COUNT(*) AS n FROM users"))[0].n).toBe(users);
    expect(garbage.body.token).toBeUndefined();
  });

  it("B38 missing, overlong, non-string code or non-JSON body → 400; wrong content type → 415", async () => {
    for (const body of [{}, { code: "" }, { code: "x".repeat(129) }, { code: 42 }, { code: ["a"] }]) {
      const reply = await api("POST", "/api/login", { body });
      expect(reply.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(reply.body.error.message).toMatch(/code/);
    }
    expect((await api("POST", "/api/login", { body: "{not json" })).status).toBe(400);
    expect((await api("POST", "/api/login", { body: "code=x", headers: { "content-type": "application/x-www-form-urlencoded" } })).status).toBe(415);
  });
});

describe("B40 session tokens", () => {
  const now = () => Math.floor(Date.now() / 1000);
  async function userId() {
    const token = await login("oscar");
    return JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).sub as string;
  }
  const ordersWith = (authorization?: string) => api("GET", "/api/orders", { headers: authorization ? { authorization } : {} });

  it("accepts our own token", async () => {
    const token = await login("oscar");
    expect((await api("GET", "/api/orders", { token })).status).toBe(200);
  });

  it("refuses no header, Basic, alg:none, HS512, expired, no exp, another aud and a tampered payload with 401", async () => {
    const sub = await userId();
    const secret = env.SESSION_SECRET;
    const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const valid = await sign({ sub, aud: "miniprogram", iat: now(), exp: now() + 600 }, secret, "HS256");
    const [h, , s] = valid.split(".");
    const variants: [string, string | undefined][] = [
      ["none", undefined],
      ["basic", "Basic eDp5"],
      ["alg none", `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub, aud: "miniprogram", exp: now() + 600 })}.`],
      ["HS512", `Bearer ${await sign({ sub, aud: "miniprogram", iat: now(), exp: now() + 600 }, secret, "HS512")}`],
      ["expired", `Bearer ${await sign({ sub, aud: "miniprogram", iat: now() - 7200, exp: now() - 60 }, secret, "HS256")}`],
      ["no exp", `Bearer ${await sign({ sub, aud: "miniprogram", iat: now() }, secret, "HS256")}`],
      ["other aud", `Bearer ${await sign({ sub, aud: "admin", iat: now(), exp: now() + 600 }, secret, "HS256")}`],
      ["tampered", `Bearer ${h}.${b64({ sub: "someone-else", aud: "miniprogram", iat: now(), exp: now() + 600 })}.${s}`],
      ["other secret", `Bearer ${await sign({ sub, aud: "miniprogram", iat: now(), exp: now() + 600 }, "x".repeat(40), "HS256")}`],
    ];
    expect((await ordersWith(`Bearer ${valid}`)).status).toBe(200);
    for (const [name, header] of variants) {
      const reply = await ordersWith(header);
      expect(reply.status, name).toBe(401);
      expect(reply.body.error.code).toBe("UNAUTHORIZED");
    }
  });

  it("refuses a user token on /admin (401) and the admin token on /api (401)", async () => {
    const token = await login("oscar");
    const asUser = await api("PUT", "/admin/products/auth-item", { token, body: { name: "x", priceFen: 1 } });
    expect(asUser.status).toBe(401);
    expect((await api("GET", "/api/orders", { token: env.ADMIN_TOKEN })).status).toBe(401);
    expect((await api("PUT", "/admin/products/auth-item", { token: env.ADMIN_TOKEN.slice(0, -1) + "x", body: { name: "x", priceFen: 1 } })).status).toBe(401);
  });

  it("answers a malformed Authorization header with 401 UNAUTHORIZED (not 400) on /api and /admin", async () => {
    const token = await login("oscar");
    const malformed = ["Bearer", "Bearer ", `Bearer ${token} extra`, `Bearer ${token}!`, `Bearer\t${token}`, `Token ${token}`, `${token}`, "Bearer ***"];
    for (const path of ["/api/orders", "/admin/orders"]) {
      for (const authorization of malformed) {
        const reply = await api("GET", path, { headers: { authorization } });
        expect(reply.status, `${path} ${authorization}`).toBe(401);
        expect(reply.body).toEqual({ error: { code: "UNAUTHORIZED", message: "missing or invalid bearer token" } });
      }
    }
    // The scheme is case-insensitive (RFC 7235): a well-formed lower-case "bearer" still passes.
    expect((await api("GET", "/api/orders", { headers: { authorization: `bearer ${token}` } })).status).toBe(200);
    expect((await api("GET", "/admin/orders", { headers: { authorization: `bearer ${env.ADMIN_TOKEN}` } })).status).toBe(200);
  });

  it("ignores amount, openid and out_trade_no sent by the client", async () => {
    const token = await login("oscar");
    const reply = await createOrder(token, [{ sku: "auth-item", quantity: 2 }], { amount: 1, totalFee: 1, openid: "evil", out_trade_no: "evil-order" });
    expect(reply.status).toBe(201);
    expect(reply.body.order.totalFee).toBe(100);
    expect(reply.body.order.outTradeNo).not.toBe("evil-order");
  });
});
