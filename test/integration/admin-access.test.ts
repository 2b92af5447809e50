// Admin sign-in through Cloudflare Access (Cf-Access-Jwt-Assertion, verified against the team's JWKS
// served by the local stand-in team, test/access-team.ts) next to the ADMIN_TOKEN bearer: GET
// /admin/session, every way a token is refused, the key cache (one fetch, one refetch for an unknown
// kid, rotation, the JWKS down), Access not configured, and the configuration /health names.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { AUD, b64url, EMAIL, jwksFetches, keys, mintAccessToken, TEAM, viaAccess, accessControl } from "./access-harness";
import { admin, api, login, ORIGIN } from "./harness";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** GET /admin/session on an env with other Access settings (app.request: a fresh config for that env). */
const sessionWith = (overrides: Partial<Env>, headers: Record<string, string>) =>
  app.request(`${ORIGIN}/admin/session`, { headers }, { ...env, ...overrides });

/** A team of its own (its own key cache in the isolate), served by the stand-in like the pinned one. */
const freshTeam = () => {
  const host = `t${crypto.randomUUID().slice(0, 8)}.cloudflareaccess.test`;
  return { host, team: `https://${host}`, env: { ACCESS_TEAM_DOMAIN: host } };
};

/** Runs `work` with console.log captured; returns what was logged. */
async function logsOf(work: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return lines.join("\n");
}

describe("GET /admin/session", () => {
  it("names the Access identity, or the token; 401 without a credential", async () => {
    const viaToken = await admin("GET", "/session");
    expect(viaToken).toMatchObject({ status: 200, body: { actor: "token", via: "token" } });
    const viaAccessToken = await viaAccess("GET", "/session", await mintAccessToken());
    expect(viaAccessToken.status).toBe(200);
    expect(viaAccessToken.body).toEqual({ actor: EMAIL, via: "access" });
    const none = await api("GET", "/admin/session");
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("UNAUTHORIZED");
  });

  it("an Access service token (no email) is its common_name", async () => {
    const token = await mintAccessToken({ email: undefined, type: undefined, sub: "", common_name: "a1b2c3.access" });
    expect((await viaAccess("GET", "/session", token)).body).toEqual({ actor: "a1b2c3.access", via: "access" });
  });

  it("the JWKS is fetched once for many requests", async () => {
    await viaAccess("GET", "/session", await mintAccessToken());
    const before = await jwksFetches();
    expect(before).toBeGreaterThanOrEqual(1);
    const replies = await Promise.all(Array.from({ length: 10 }, async () => viaAccess("GET", "/session", await mintAccessToken())));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await jwksFetches()).toBe(before);
  });

  it("an Authorization header decides alone: a wrong bearer is 401 even with a valid Access token", async () => {
    const token = await mintAccessToken();
    const wrong = await api("GET", "/admin/session", { token: "not-the-admin-token", headers: { "cf-access-jwt-assertion": token } });
    expect(wrong.status).toBe(401);
    const right = await api("GET", "/admin/session", { token: env.ADMIN_TOKEN, headers: { "cf-access-jwt-assertion": token } });
    expect(right.body).toEqual({ actor: "token", via: "token" });
  });
});

describe("refused Access tokens → 401, nothing done, the token never logged", () => {
  const now = () => Math.floor(Date.now() / 1000);

  it("wrong aud, wrong iss, expired, not yet valid, no exp, no identity", async () => {
    // Each with the check that refused it (the log's reason: hono's error name, or ours).
    const cases: Record<string, [Promise<string>, string]> = {
      "wrong aud": [mintAccessToken({ aud: ["another-application-aud"] }), "JwtTokenAudience"],
      "no aud": [mintAccessToken({ aud: undefined }), "JwtPayloadRequiresAud"],
      "wrong iss": [mintAccessToken({ iss: "https://other-team.cloudflareaccess.test" }), "JwtTokenIssuer"],
      "iss not normalised": [mintAccessToken({ iss: `${TEAM}/` }), "JwtTokenIssuer"],
      "no iss": [mintAccessToken({ iss: undefined }), "JwtTokenIssuer"],
      expired: [mintAccessToken({ iat: now() - 700, nbf: now() - 700, exp: now() - 1 }), "JwtTokenExpired"],
      "nbf in the future": [mintAccessToken({ nbf: now() + 120 }), "JwtTokenNotBefore"],
      "no exp": [mintAccessToken({ exp: undefined }), "no exp"],
      "exp not a number": [mintAccessToken({ exp: String(now() + 600) }), "JwtTokenExpired"],
      "no email, no common_name": [mintAccessToken({ email: undefined }), "no identity"],
      "empty email": [mintAccessToken({ email: "" }), "no identity"],
    };
    for (const [name, [minted, reason]] of Object.entries(cases)) {
      const token = await minted;
      let reply: Awaited<ReturnType<typeof viaAccess>> | undefined;
      const logs = await logsOf(async () => (reply = await viaAccess("GET", "/session", token)));
      expect(reply!.status, name).toBe(401);
      expect(reply!.body.error.code, name).toBe("UNAUTHORIZED");
      expect(logs, name).toContain(`"event":"admin_access_refused"`);
      expect(/"reason":"([^"]*)"/.exec(logs)?.[1], name).toBe(reason);
      expect(logs, name).not.toContain(token.split(".")[2]);
    }
  });

  it("alg none, HS256 keyed with the public key, RS512, another key under our kid, a tampered payload or signature", async () => {
    const valid = await mintAccessToken();
    const [header, payload, signature] = valid.split(".") as [string, string, string];
    const publicJwk = { kty: "RSA", n: keys.primary.n, e: keys.primary.e, kid: keys.primary.kid, alg: "RS256", use: "sig" };
    /** The classic confusion: an HMAC whose key is the public key a verifier might hand to it. */
    const hs256 = async (secret: string) => {
      const h = b64url(JSON.stringify({ alg: "HS256", kid: keys.primary.kid, typ: "JWT" }));
      const hmac = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return `${h}.${payload}.${b64url(new Uint8Array(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(`${h}.${payload}`))))}`;
    };
    const tamperedPayload = b64url(JSON.stringify({ ...JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))), email: "boss@shop.example" }));
    const cases: Record<string, [string, string]> = {
      "alg none": [`${b64url(JSON.stringify({ alg: "none", kid: keys.primary.kid, typ: "JWT" }))}.${payload}.`, "alg"],
      "alg none with the signature kept": [`${b64url(JSON.stringify({ alg: "none", kid: keys.primary.kid }))}.${payload}.${signature}`, "alg"],
      "HS256 keyed with the public JWK": [await hs256(JSON.stringify(publicJwk)), "alg"],
      "HS256 keyed with the modulus": [await hs256(keys.primary.n!), "alg"],
      RS512: [
        await (async () => {
          const h = b64url(JSON.stringify({ alg: "RS512", kid: keys.primary.kid, typ: "JWT" }));
          const k = await crypto.subtle.importKey("jwk", { ...keys.primary, alg: "RS512" }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }, false, ["sign"]);
          return `${h}.${payload}.${b64url(new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", k, new TextEncoder().encode(`${h}.${payload}`))))}`;
        })(),
        "alg",
      ],
      "another key under our kid": [await mintAccessToken({}, { key: { ...keys.stranger, kid: keys.primary.kid } }), "JwtTokenSignatureMismatched"],
      "tampered payload": [`${header}.${tamperedPayload}.${signature}`, "JwtTokenSignatureMismatched"],
      "tampered signature": [`${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith("AAAA") ? "BBBB" : "AAAA"}`, "JwtTokenSignatureMismatched"],
      "no signature": [`${header}.${payload}.`, "JwtTokenSignatureMismatched"],
      "no kid": [await mintAccessToken({}, { header: { kid: undefined } }), "no kid"],
      "typ not JWT": [await mintAccessToken({}, { header: { typ: "at+jwt" } }), "JwtHeaderInvalid"],
    };
    for (const [name, [token, reason]] of Object.entries(cases)) {
      let reply: Awaited<ReturnType<typeof viaAccess>> | undefined;
      const logs = await logsOf(async () => (reply = await viaAccess("GET", "/session", token)));
      expect(reply!.status, name).toBe(401);
      expect(reply!.body.error.code, name).toBe("UNAUTHORIZED");
      expect(/"reason":"([^"]*)"/.exec(logs)?.[1], name).toBe(reason);
      expect(logs, name).not.toContain(payload);
    }
    // The valid one it was cut from is accepted (so each refusal above is the change, not the base).
    expect((await viaAccess("GET", "/session", valid)).status).toBe(200);
  });

  it("garbage in the header, a user's session token (as Access token or as bearer)", async () => {
    const session = await login("access-tests");
    for (const value of ["garbage", "a.b.c", "..", "Bearer x", "eyJhbGciOiJSUzI1NiJ9", `${"x".repeat(9000)}.y.z`, "%%%.%%%.%%%", session]) {
      expect((await viaAccess("GET", "/session", value)).status, value.slice(0, 20)).toBe(401);
    }
    expect((await api("GET", "/admin/session", { token: session })).status).toBe(401);
  });

  it("a refused token changes nothing", async () => {
    const token = await mintAccessToken({ aud: ["another-application-aud"] });
    const reply = await viaAccess("PUT", "/products/acc-refused", token, { name: "Never", priceFen: 100 });
    expect(reply.status).toBe(401);
    const { results } = await env.DB.prepare("SELECT sku FROM products WHERE sku = 'acc-refused'").all();
    expect(results).toEqual([]);
  });
});

describe("the key cache", () => {
  it("an unknown kid: one refetch (at most one per 30 s), then 401; the keys we had still work", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const t = freshTeam();
    const session = async (key = keys.primary) =>
      (await sessionWith(t.env, { "cf-access-jwt-assertion": await mintAccessToken({}, { key, team: t.team }) })).status;
    expect(await session()).toBe(200);
    expect(await jwksFetches(t.host)).toBe(1);
    // Right after a fetch an unknown kid fetches nothing.
    expect(await session(keys.stranger)).toBe(401);
    expect(await jwksFetches(t.host)).toBe(1);
    vi.setSystemTime(Date.now() + 30_000);
    expect(await session(keys.stranger)).toBe(401);
    expect(await jwksFetches(t.host)).toBe(2);
    for (let i = 0; i < 5; i++) expect(await session(keys.stranger)).toBe(401);
    expect(await jwksFetches(t.host)).toBe(2);
    expect(await session()).toBe(200);
    expect(await jwksFetches(t.host)).toBe(2);
  });

  it("a key rotation: the new kid is found by the refetch", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const t = freshTeam();
    const session = async (key = keys.primary) =>
      (await sessionWith(t.env, { "cf-access-jwt-assertion": await mintAccessToken({}, { key, team: t.team }) })).status;
    try {
      expect(await session()).toBe(200);
      await accessControl("POST", "/rotate");
      vi.setSystemTime(Date.now() + 30_000);
      expect(await session(keys.rotated)).toBe(200);
      expect(await session()).toBe(200);
      expect(await jwksFetches(t.host)).toBe(2);
    } finally {
      await accessControl("POST", "/reset");
    }
  });

  it("the JWKS endpoint down → 503 ACCESS_UNAVAILABLE (no crash, no token in the logs), retried at most every 30 s; the bearer still works", async () => {
    const down = { ACCESS_TEAM_DOMAIN: "https://down.cloudflareaccess.test" };
    const token = await mintAccessToken({}, { team: down.ACCESS_TEAM_DOMAIN });
    const before = await jwksFetches("down.cloudflareaccess.test");
    let reply: Response | undefined;
    const logs = await logsOf(async () => (reply = await sessionWith(down, { "cf-access-jwt-assertion": token })));
    expect(reply!.status).toBe(503);
    expect(reply!.headers.get("retry-after")).toBe("30");
    expect(await reply!.json()).toMatchObject({ error: { code: "ACCESS_UNAVAILABLE" } });
    expect(logs).toContain("access_jwks_failed");
    expect(logs).not.toContain(token.split(".")[1]);
    expect(await jwksFetches("down.cloudflareaccess.test")).toBe(before + 1);
    expect((await sessionWith(down, { "cf-access-jwt-assertion": token })).status).toBe(503);
    expect(await jwksFetches("down.cloudflareaccess.test")).toBe(before + 1);
    const bearer = await sessionWith(down, { authorization: `Bearer ${env.ADMIN_TOKEN}` });
    expect(await bearer.json()).toEqual({ actor: "token", via: "token" });
  });
});

describe("Access not configured", () => {
  it("the header is ignored entirely: no fetch, 401 without the bearer, the bearer as always", async () => {
    const t = freshTeam();
    const off = { ACCESS_TEAM_DOMAIN: "", ACCESS_AUD: "" };
    const token = await mintAccessToken({}, { team: t.team });
    expect((await sessionWith(off, { "cf-access-jwt-assertion": token })).status).toBe(401);
    expect(await jwksFetches(t.host)).toBe(0);
    const bearer = await sessionWith(off, { authorization: `Bearer ${env.ADMIN_TOKEN}`, "cf-access-jwt-assertion": token });
    expect(await bearer.json()).toEqual({ actor: "token", via: "token" });
  });
});

describe("configuration", () => {
  const health = async (overrides: Partial<Env>) => {
    const res = await app.request(`${ORIGIN}/health`, {}, { ...env, ...overrides });
    return { status: res.status, body: (await res.json()) as { ok: boolean; problems?: string[] } };
  };

  it("half-configured Access is a problem /health names (names, never values)", async () => {
    const noAud = await health({ ACCESS_AUD: "" });
    expect(noAud).toMatchObject({ status: 503, body: { ok: false, problems: ["ACCESS_TEAM_DOMAIN needs ACCESS_AUD"] } });
    expect(JSON.stringify(noAud.body)).not.toContain("cloudflareaccess");
    const noDomain = await health({ ACCESS_TEAM_DOMAIN: "" });
    expect(noDomain).toMatchObject({ status: 503, body: { problems: ["ACCESS_AUD needs ACCESS_TEAM_DOMAIN"] } });
    expect(JSON.stringify(noDomain.body)).not.toContain(AUD);
    // /admin refuses to run on it, bearer or not.
    const admin = await app.request(`${ORIGIN}/admin/session`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }, { ...env, ACCESS_AUD: "" });
    expect(admin.status).toBe(503);
  });

  it("the team domain with or without https:// and a trailing slash; malformed ones and bad AUDs named", async () => {
    for (const domain of ["team.cloudflareaccess.test", "https://team.cloudflareaccess.test", "https://team.cloudflareaccess.test/", "team.cloudflareaccess.test/"]) {
      expect((await health({ ACCESS_TEAM_DOMAIN: domain })).body, domain).toEqual({ ok: true });
    }
    for (const domain of ["https://team.cloudflareaccess.test/cdn-cgi/access/certs", "https://team.cloudflareaccess.test/?x=1", "ftp://team.cloudflareaccess.test", "https://user:pw@team.cloudflareaccess.test", "https://"]) {
      expect((await health({ ACCESS_TEAM_DOMAIN: domain })).body.problems, domain).toEqual(["ACCESS_TEAM_DOMAIN must be a team domain such as https://<team>.cloudflareaccess.com"]);
    }
    expect((await health({ ACCESS_AUD: "has a space" })).body.problems).toEqual(["ACCESS_AUD must be the Access application's Audience (AUD) tag"]);
  });

  it("against WeChat's production host the team domain must be https://<team>.cloudflareaccess.com", async () => {
    const production = { WECHAT_PAY_BASE: "https://api.mch.weixin.qq.com" };
    for (const domain of ["http://shop.cloudflareaccess.com", "https://team.cloudflareaccess.test", "https://cloudflareaccess.com.evil.example"]) {
      const { body } = await health({ ...production, ACCESS_TEAM_DOMAIN: domain });
      expect(body.problems, domain).toContain("ACCESS_TEAM_DOMAIN must be https://<team>.cloudflareaccess.com");
    }
    for (const domain of ["shop.cloudflareaccess.com", "https://shop.cloudflareaccess.com/"]) {
      const { body } = await health({ ...production, ACCESS_TEAM_DOMAIN: domain });
      expect(body.problems ?? [], domain).not.toContain("ACCESS_TEAM_DOMAIN must be https://<team>.cloudflareaccess.com");
    }
  });
});
