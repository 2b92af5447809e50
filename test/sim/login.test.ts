import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import type { Simulator } from "../../sim/core.ts";

const APPID = "wxd930ea5d5a258f4f";
const SECRET = "local-app-secret-for-the-simulator";
let sim: Simulator;
beforeEach(() => {
  sim = createSimulator({ appId: APPID, mchId: "10000100", apiKey: "192006250b4c09247ec02edce69f6a2d", appSecret: SECRET, delivery: "outbox" });
});
afterEach(() => sim.close());

async function login(code: string, over: Record<string, string> = {}) {
  const q = new URLSearchParams({ appid: APPID, secret: SECRET, js_code: code, grant_type: "authorization_code", ...over });
  const res = await sim.fetch(new Request(`https://api.weixin.qq.com/sns/jscode2session?${q}`));
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe("GET /sns/jscode2session", () => {
  it("accepts a new code once; the openid comes from the part before the first '-'", async () => {
    const a1 = await login("alice-1");
    expect(Object.keys(a1).sort()).toEqual(["openid", "session_key"]);
    expect(a1.openid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    expect(Buffer.from(a1.session_key as string, "base64")).toHaveLength(16);
    const a2 = await login("alice-2");
    expect(a2.openid).toBe(a1.openid);
    expect(a2.session_key).not.toBe(a1.session_key);
    const b = await login("bob-1");
    expect(b.openid).not.toBe(a1.openid);
    expect(a1.openid).toBe(sim.openidFor("alice"));
    expect(await login("carol")).toHaveProperty("openid", sim.openidFor("carol"));
  });

  it("a reused code answers 40163", async () => {
    await login("dave-7");
    const again = await login("dave-7");
    expect(again.errcode).toBe(40163);
    expect(again.errmsg).toMatch(/^code been used, rid: /);
    expect(again.openid).toBeUndefined();
  });

  it("scripted codes: bad → 40029, ratelimit → 45011, risky → 40226, busy → -1 (never consumed)", async () => {
    expect((await login("bad-1")).errcode).toBe(40029);
    expect((await login("bad-1")).errcode).toBe(40029);
    expect((await login("ratelimit-x")).errcode).toBe(45011);
    expect((await login("risky")).errcode).toBe(40226);
    const busy = await login("busy-3");
    expect(busy).toMatchObject({ errcode: -1 });
    expect(String(busy.errmsg)).toMatch(/^system error/);
  });

  it("checks appid and secret, and missing parameters", async () => {
    expect((await login("eve-1", { appid: "wx0000000000000000" })).errcode).toBe(40013);
    expect((await login("eve-1", { secret: "wrong" })).errcode).toBe(40125);
    expect((await login("", {})).errcode).toBe(41008);
    expect((await login("eve-1", { appid: "" })).errcode).toBe(41002);
    expect((await login("eve-1", { secret: "" })).errcode).toBe(41004);
    // none of those consumed the code
    expect(await login("eve-1")).toHaveProperty("openid");
  });

  it("users named union* also get a unionid", async () => {
    const u = await login("unionuser-1");
    expect(u.unionid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
  });

  it("records the request for tests", async () => {
    await login("frank-1");
    const { requests } = await (await sim.fetch(new Request("http://sim.test/__sim/received?path=/sns/jscode2session"))).json();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "GET", path: "/sns/jscode2session", query: { js_code: "frank-1", grant_type: "authorization_code" } });
  });
});
