// Proves code2Session: the GET URL (URL-encoded appid/secret/js_code, grant_type), success with and
// without unionid or errcode 0, WeChat errors 40029/40163/45011/40226/-1 passed through, JSON served
// as text/plain accepted, non-JSON / malformed / HTTP 5xx / network error / timeout → transport, and
// the secret never appears in any result.
import { describe, expect, it } from "vitest";
import samples from "../fixtures/wechatpay-v2/jscode2session_responses.json";
import { code2Session, type Code2SessionResult } from "../../src/miniprogram/code2session";
import { fakeFetch } from "./helpers";

const SECRET = "s3cr3t&=?/SECRET";
const json = (body: unknown, contentType = "application/json") =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { headers: { "Content-Type": contentType } });

async function login(reply: () => Response | Promise<Response>, timeoutMs?: number) {
  const fake = fakeFetch(reply);
  const result = await code2Session({
    apiBase: "https://api.test/",
    appId: "wxAPP",
    secret: SECRET,
    code: "0a1 b+c/d",
    fetch: fake.fetch,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  expect(JSON.stringify(result)).not.toContain("s3cr3t");
  return { result, seen: fake.seen };
}

describe("request", () => {
  it("GETs /sns/jscode2session with URL-encoded parameters", async () => {
    const { seen } = await login(() => json({ openid: "o1", session_key: "k1" }));
    expect(seen[0]!.method).toBe("GET");
    const url = new URL(seen[0]!.url);
    expect(url.origin + url.pathname).toBe("https://api.test/sns/jscode2session");
    expect(url.searchParams.get("appid")).toBe("wxAPP");
    expect(url.searchParams.get("secret")).toBe(SECRET);
    expect(url.searchParams.get("js_code")).toBe("0a1 b+c/d");
    expect(url.searchParams.get("grant_type")).toBe("authorization_code");
    expect(seen[0]!.url).not.toContain("&=?"); // the secret is encoded, not spliced
  });
});

describe("success", () => {
  it("typical body without errcode or unionid", async () => {
    const { result } = await login(() => json({ openid: "oUpF8u", session_key: "tiihtNczf5v6AKRyjwEUhQ==" }));
    expect(result).toEqual({ ok: true, openid: "oUpF8u", sessionKey: "tiihtNczf5v6AKRyjwEUhQ==", unionid: null });
  });
  it("doc example with errcode 0 and unionid", async () => {
    const { result } = await login(() => json(samples.success_doc_example));
    expect(result).toEqual({ ok: true, openid: "xxxxxx", sessionKey: "xxxxx", unionid: "xxxxx" });
  });
  it("JSON served as text/plain", async () => {
    const { result } = await login(() => json({ openid: "o2", session_key: "k2" }, "text/plain"));
    expect(result).toMatchObject({ ok: true, openid: "o2" });
  });
});

describe("WeChat errors", () => {
  for (const errcode of [40029, 40163, 45011, 40226, -1]) {
    it(`errcode ${errcode} is passed through`, async () => {
      const sample = samples.errors.find((e) => e.errcode === errcode)!;
      const { result } = await login(() => json(sample));
      expect(result).toEqual({ ok: false, kind: "wechat", errcode, errmsg: sample.errmsg });
    });
  }
});

describe("transport failures", () => {
  const transport = (r: Code2SessionResult) => expect(r).toMatchObject({ ok: false, kind: "transport" });
  it("non-JSON, empty, array, HTML", async () => {
    for (const body of ["<html>502</html>", "", "[1,2]", "null", "not json"]) {
      transport((await login(() => json(body, "text/html"))).result);
    }
  });
  it("success without openid/session_key, or with non-string/empty values → malformed", async () => {
    for (const body of [{ session_key: "k" }, { openid: "o" }, { openid: "", session_key: "k" }, { openid: 1, session_key: "k" }, {}, { errcode: "40029" }]) {
      const { result } = await login(() => json(body));
      expect(result).toEqual({ ok: false, kind: "transport", message: "malformed" });
    }
  });
  it("HTTP 500", async () => {
    const { result } = await login(() => new Response("{}", { status: 500 }));
    expect(result).toEqual({ ok: false, kind: "transport", message: "HTTP 500" });
  });
  it("network error does not leak the URL (which holds the secret)", async () => {
    const { result } = await login(() => {
      throw new TypeError(`fetch failed for https://api.test/sns/jscode2session?secret=${SECRET}`);
    });
    expect(result).toEqual({ ok: false, kind: "transport", message: "network error: TypeError" });
  });
  it("timeout", async () => {
    const { result } = await login(() => new Promise<Response>(() => undefined), 30);
    expect(result).toEqual({ ok: false, kind: "transport", message: "timeout" });
  });
});
