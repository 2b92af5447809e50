// POST /cgi-bin/stable_token and the access-token check of the shipping calls: normal mode, renewal in
// the last 5 minutes, force refresh (invalidates, 30 s apart, 20 a day), 41001/40001/42001, the
// /__sim/tokens controls and the token_expired fault.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { APPID } from "./peer.ts";
import { SECRET, accessToken, control, makeSim, wx } from "./shipping-peer.ts";

const errcodes = JSON.parse(readFileSync(new URL("../fixtures/wechat-miniprogram-push/errcodes_official_doc.json", import.meta.url), "utf8"));
const documented = new Set([...Object.keys(errcodes.common), ...Object.keys(errcodes.global), "40125", "41004"].map(Number));

const ask = (over: Record<string, unknown> = {}) => ({ grant_type: "client_credential", appid: APPID, secret: SECRET, ...over });
const IS_MANAGED = "/wxa/sec/order/is_trade_managed";
const managed = (sim: ReturnType<typeof makeSim>, token: string | null) => wx(sim, IS_MANAGED, { appid: APPID }, token);

describe("POST /cgi-bin/stable_token", () => {
  it("normal mode: one token, the same while valid, expires_in counting down from 7200", async () => {
    let now = Date.parse("2026-03-01T08:00:00Z");
    const sim = makeSim({ now: () => now });
    const a = await wx(sim, "/cgi-bin/stable_token", ask());
    expect(Object.keys(a).sort()).toEqual(["access_token", "expires_in"]);
    expect(a.expires_in).toBe(7200);
    now += 600_000;
    const b = await wx(sim, "/cgi-bin/stable_token", ask({ force_refresh: false }));
    expect(b).toEqual({ access_token: a.access_token, expires_in: 6600 });
    expect((await managed(sim, a.access_token)).errcode).toBe(0);
  });

  it("in the last 5 minutes a call gets a new token; the old one works until it expires, then 42001", async () => {
    let now = Date.parse("2026-03-01T08:00:00Z");
    const sim = makeSim({ now: () => now });
    const old = await accessToken(sim);
    now += (7200 - 300) * 1000 - 1;
    expect(await accessToken(sim)).toBe(old); // 5 min + 1 ms left: still the same
    now += 1;
    const renewed = await accessToken(sim);
    expect(renewed).not.toBe(old);
    expect((await managed(sim, old)).errcode).toBe(0);
    now += 300_000;
    const expired = await managed(sim, old);
    expect(expired.errcode).toBe(42001);
    expect(expired.errmsg).toMatch(/^access_token expired rid: \w+-\w+-\w+$/);
    expect((await managed(sim, renewed)).errcode).toBe(0);
  });

  it("an expired token is replaced on the next normal call", async () => {
    let now = Date.parse("2026-03-01T08:00:00Z");
    const sim = makeSim({ now: () => now });
    const old = await accessToken(sim);
    now += 7200_000;
    expect((await managed(sim, old)).errcode).toBe(42001);
    const fresh = await wx(sim, "/cgi-bin/stable_token", ask());
    expect(fresh.access_token).not.toBe(old);
    expect(fresh.expires_in).toBe(7200);
  });

  it("force_refresh: a new token, every earlier one invalid (40001); within 30 s it does not refresh", async () => {
    let now = Date.parse("2026-03-01T08:00:00Z");
    const sim = makeSim({ now: () => now });
    const first = await accessToken(sim);
    const forced = await accessToken(sim, true);
    expect(forced).not.toBe(first);
    const stale = await managed(sim, first);
    expect(stale.errcode).toBe(40001);
    expect(stale.errmsg).toMatch(/^invalid credential, access_token is invalid or not latest rid: /);
    now += 29_000;
    expect(await accessToken(sim, true)).toBe(forced); // "否则不会刷新"
    expect((await managed(sim, forced)).errcode).toBe(0);
    now += 1_000;
    const again = await accessToken(sim, true);
    expect(again).not.toBe(forced);
    expect((await managed(sim, forced)).errcode).toBe(40001);
    expect((await control(sim, "/__sim/tokens")).body.forceRefreshesToday).toBe(2);
  });

  it("at most 20 force refreshes a (Beijing) day, then 45009; the next day works again", async () => {
    let now = Date.parse("2026-03-01T00:30:00+08:00");
    const sim = makeSim({ now: () => now });
    for (let i = 0; i < 20; i++) {
      await accessToken(sim, true);
      now += 31_000;
    }
    const refused = await wx(sim, "/cgi-bin/stable_token", ask({ force_refresh: true }));
    expect(refused.errcode).toBe(45009);
    expect(refused.errmsg).toMatch(/^reach max api daily quota limit rid: /);
    expect((await wx(sim, "/cgi-bin/stable_token", ask())).access_token).toBeTypeOf("string"); // normal mode still works
    now = Date.parse("2026-03-02T00:00:01+08:00");
    expect(await accessToken(sim, true)).toBeTypeOf("string");
  });

  it("refuses bad calls with WeChat's errcodes and issues nothing", async () => {
    const sim = makeSim();
    const cases: [unknown, number][] = [
      [ask({ grant_type: "authorization_code" }), 40002],
      [ask({ grant_type: undefined }), 40002],
      [ask({ appid: "wx0000000000000000" }), 40013],
      [ask({ secret: "wrong" }), 40125],
      [ask({ appid: "" }), 41002],
      [ask({ secret: undefined }), 41004],
      [ask({ force_refresh: "true" }), 47001],
      [ask({ appid: 123 }), 47001],
      ["grant_type=client_credential&appid=x", 47001],
      ["[1,2]", 47001],
      ["", 44002],
    ];
    for (const [body, code] of cases) {
      const r = await wx(sim, "/cgi-bin/stable_token", body);
      expect(r.errcode, JSON.stringify(body)).toBe(code);
      expect(documented.has(code), `${code} is documented`).toBe(true);
      expect(r.access_token).toBeUndefined();
    }
    const get = await (await sim.fetch(new Request("https://api.weixin.qq.com/cgi-bin/stable_token"))).json();
    expect(get.errcode).toBe(43002);
    expect((await control(sim, "/__sim/tokens")).body).toEqual({ current: null, issued: 0, forceRefreshesToday: 0 });
  });

  it("records the call without the AppSecret; logs never carry the token", async () => {
    const lines: string[] = [];
    const sim = makeSim({ log: (l) => lines.push(l) });
    const token = await accessToken(sim);
    await managed(sim, token);
    const { requests } = (await control(sim, "/__sim/received?path=/cgi-bin/stable_token")).body;
    expect(requests).toHaveLength(1);
    expect(requests[0].raw).not.toContain(SECRET);
    expect(JSON.parse(requests[0].raw)).toMatchObject({ appid: APPID, secret: "<redacted>" });
    expect(lines.join("\n")).not.toContain(token);
    expect(lines.join("\n")).not.toContain(SECRET);
  });
});

describe("the access token of the shipping calls", () => {
  it("missing → 41001, unknown → 40001, and nothing else is looked at", async () => {
    const sim = makeSim();
    const none = await managed(sim, null);
    expect([none.errcode, none.errmsg]).toEqual([41001, expect.stringMatching(/^access_token missing rid: /)]);
    expect((await managed(sim, "1_not-a-token")).errcode).toBe(40001);
    expect((await wx(sim, IS_MANAGED, "not json", null)).errcode).toBe(41001); // the token is checked before the body
  });

  it("POST /__sim/tokens/expire: the next call with the old token answers 42001, a new token works", async () => {
    const sim = makeSim();
    const old = await accessToken(sim);
    expect((await control(sim, "/__sim/tokens/expire", {})).body).toEqual({ expired: 1 });
    expect((await managed(sim, old)).errcode).toBe(42001);
    const fresh = await accessToken(sim);
    expect(fresh).not.toBe(old);
    expect((await managed(sim, fresh)).errcode).toBe(0);
    const view = (await control(sim, "/__sim/tokens")).body;
    expect(view).toMatchObject({ issued: 2, current: { tail: fresh.slice(-6), usable: true } });
    expect(JSON.stringify(view)).not.toContain(fresh);
  });

  it("the token_expired fault: the token dies mid-way, once; stable_token refuses that fault", async () => {
    const sim = makeSim();
    const token = await accessToken(sim);
    expect((await managed(sim, token)).errcode).toBe(0);
    expect((await control(sim, "/__sim/faults", { path: IS_MANAGED, fault: "token_expired" })).status).toBe(200);
    expect((await managed(sim, token)).errcode).toBe(42001);
    expect((await managed(sim, token)).errcode).toBe(42001); // expired for good, not just for one call
    expect((await managed(sim, await accessToken(sim))).errcode).toBe(0);
    const refused = await control(sim, "/__sim/faults", { path: "/cgi-bin/stable_token", fault: "token_expired" });
    expect(refused).toMatchObject({ status: 400, body: { code: "BAD_REQUEST" } });
    expect((await control(sim, "/__sim/faults", { path: "/pay/unifiedorder", fault: "token_expired" })).status).toBe(400);
  });

  it("faults on stable_token: -1 busy, then normal", async () => {
    const sim = makeSim();
    await control(sim, "/__sim/faults", { path: "/cgi-bin/stable_token", fault: "systemerror" });
    const busy = await wx(sim, "/cgi-bin/stable_token", ask());
    expect([busy.errcode, busy.access_token]).toEqual([-1, undefined]);
    expect(await accessToken(sim)).toBeTypeOf("string");
  });

  it("reset forgets every token", async () => {
    const sim = makeSim();
    const token = await accessToken(sim);
    await control(sim, "/__sim/reset", {});
    expect((await managed(sim, token)).errcode).toBe(40001);
  });
});
