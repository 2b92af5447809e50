// Proves how WechatPayClient classifies replies (catalogue F08/F09 at client level): verified
// success; bad/missing/MD5-under-HMAC signature → bad_signature (no field leaks); unsigned
// return_code FAIL → return_fail; signed result_code FAIL → result_fail; foreign appid/mch_id;
// HTTP 5xx, HTML, empty, truncated, DOCTYPE, oversize, network error and timeout → transport; the
// previous key is accepted during rotation; no message ever contains the key.
import { describe, expect, it } from "vitest";
import observed from "../fixtures/wechatpay-v2/error_and_edge_responses_observed.json";
import { WechatPayClient, type PayCallResult } from "../../src/wechatpay/client";
import type { Fields, SignType } from "../../src/wechatpay/sign";
import { writeXml } from "../../src/wechatpay/xml";
import { DOC_KEY, fakeFetch, signWechat, xmlResponse } from "./helpers";

const APPID = "wxd930ea5d5a258f4f";
const MCHID = "10000100";
const OLD_KEY = "0123456789abcdef0123456789abcdef";

const SUCCESS: Fields = {
  return_code: "SUCCESS",
  return_msg: "OK",
  appid: APPID,
  mch_id: MCHID,
  nonce_str: "IITRi8Iabbblz1Jc",
  result_code: "SUCCESS",
  prepay_id: "wx201411101639507cbf6ffd8b0779950874",
  trade_type: "JSAPI",
};

function clientReplying(reply: () => Response | Promise<Response>, opts: { type?: SignType; timeoutMs?: number; previousKeys?: string[] } = {}) {
  const { fetch } = fakeFetch(reply);
  return new WechatPayClient({
    appId: APPID,
    mchId: MCHID,
    key: DOC_KEY,
    signType: opts.type ?? "MD5",
    payBase: "https://pay.test",
    fetch,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.previousKeys ? { previousKeys: opts.previousKeys } : {}),
  });
}

const call = (reply: () => Response | Promise<Response>, opts?: Parameters<typeof clientReplying>[1]) =>
  clientReplying(reply, opts).unifiedOrder({ out_trade_no: "T1", total_fee: "1" });

const signedXml = async (fields: Fields, key = DOC_KEY, type: SignType = "MD5") => writeXml(await signWechat(fields, key, type));

const expectNoKey = (r: PayCallResult) => expect(JSON.stringify(r)).not.toContain(DOC_KEY);

describe("verified outcomes", () => {
  it("success (MD5): data is the verified reply", async () => {
    const xml = await signedXml(SUCCESS);
    const r = await call(() => xmlResponse(xml));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.data.prepay_id).toBe("wx201411101639507cbf6ffd8b0779950874");
  });
  it("success (HMAC reply without sign_type, as WeChat sends it)", async () => {
    const xml = await signedXml(SUCCESS, DOC_KEY, "HMAC-SHA256");
    expect((await call(() => xmlResponse(xml), { type: "HMAC-SHA256" })).ok).toBe(true);
  });
  it("result_code FAIL + err_code → result_fail with verified data", async () => {
    const xml = await signedXml({ ...SUCCESS, result_code: "FAIL", err_code: "ORDERPAID", err_code_des: "该订单已支付", prepay_id: "" });
    const r = await call(() => xmlResponse(xml));
    expect(r).toMatchObject({ ok: false, kind: "result_fail", errCode: "ORDERPAID", errCodeDes: "该订单已支付" });
    if (!r.ok && r.kind === "result_fail") expect(r.data.mch_id).toBe(MCHID);
  });
  it("return_code FAIL without a sign → return_fail", async () => {
    const r = await call(() => xmlResponse(observed.sign_error_return_level.xml));
    expect(r).toEqual({ ok: false, kind: "return_fail", returnMsg: "签名错误" });
    const sandbox = await call(() => xmlResponse(observed.sandbox_bad_param.xml));
    expect(sandbox).toEqual({ ok: false, kind: "return_fail", returnMsg: "请确认请求参数是否正确param mch_id invalid" });
  });
  it("key rotation: a reply signed with the previous key is accepted", async () => {
    const xml = await signedXml(SUCCESS, OLD_KEY);
    expect((await call(() => xmlResponse(xml))).ok).toBe(false);
    expect((await call(() => xmlResponse(xml), { previousKeys: [OLD_KEY] })).ok).toBe(true);
  });
});

describe("bad_signature: nothing from the reply is used", () => {
  it("tampered prepay_id", async () => {
    const signed = await signWechat(SUCCESS);
    const r = await call(() => xmlResponse(writeXml({ ...signed, prepay_id: "wxEVIL" })));
    expect(r).toMatchObject({ ok: false, kind: "bad_signature" });
    expect(JSON.stringify(r)).not.toContain("wxEVIL");
  });
  it("missing sign, wrong key, MD5 sign under pinned HMAC", async () => {
    expect(await call(() => xmlResponse(writeXml(SUCCESS)))).toMatchObject({ kind: "bad_signature" });
    const wrongKey = await signedXml(SUCCESS, OLD_KEY);
    expect(await call(() => xmlResponse(wrongKey))).toMatchObject({ kind: "bad_signature" });
    const md5 = await signedXml(SUCCESS);
    expect(await call(() => xmlResponse(md5), { type: "HMAC-SHA256" })).toMatchObject({ kind: "bad_signature" });
  });
  it("a signed result FAIL with a bad sign is bad_signature, not result_fail", async () => {
    const signed = await signWechat({ ...SUCCESS, result_code: "FAIL", err_code: "SYSTEMERROR" });
    const r = await call(() => xmlResponse(writeXml({ ...signed, err_code: "ORDERPAID" })));
    expect(r).toMatchObject({ ok: false, kind: "bad_signature" });
  });
  it("validly signed reply for another appid or mch_id", async () => {
    const otherApp = await signedXml({ ...SUCCESS, appid: "wxOTHER" });
    expect(await call(() => xmlResponse(otherApp))).toMatchObject({ kind: "bad_signature", message: expect.stringContaining("appid") });
    const otherMch = await signedXml({ ...SUCCESS, mch_id: "999" });
    expect(await call(() => xmlResponse(otherMch))).toMatchObject({ kind: "bad_signature", message: expect.stringContaining("mch_id") });
  });
});

describe("transport failures", () => {
  it.each([
    ["HTTP 500", () => xmlResponse("<xml><return_code>SUCCESS</return_code></xml>", 500), "HTTP 500"],
    ["HTTP 302", () => new Response(null, { status: 302, headers: { Location: "https://x" } }), "HTTP 302"],
    ["HTML page", () => new Response("<html><body>Bad Gateway</body></html>", { headers: { "Content-Type": "text/html" } }), "malformed"],
    ["empty body", () => xmlResponse(""), "malformed"],
    ["truncated XML", () => xmlResponse("<xml><return_code><![CDATA[SUCCESS]]></return_code><prepay_id>wx1"), "malformed"],
    ["DOCTYPE", () => xmlResponse('<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>'), "malformed"],
    ["JSON", () => xmlResponse('{"return_code":"SUCCESS"}'), "malformed"],
    ["oversize", () => xmlResponse(`<xml><a>${"x".repeat(40_000)}</a></xml>`), "too large"],
    ["no return_code", () => xmlResponse("<xml><result_code>SUCCESS</result_code></xml>"), "return_code"],
  ])("%s → transport", async (_label, reply, fragment) => {
    const r = await call(reply);
    expect(r).toMatchObject({ ok: false, kind: "transport" });
    if (!r.ok && r.kind === "transport") expect(r.message).toContain(fragment);
    expectNoKey(r);
  });
  it("signed reply without result_code → transport", async () => {
    const xml = await signedXml({ return_code: "SUCCESS", appid: APPID, mch_id: MCHID });
    expect(await call(() => xmlResponse(xml))).toMatchObject({ ok: false, kind: "transport" });
  });
  it("network error → transport without leaking the underlying message", async () => {
    const r = await call(() => {
      throw new TypeError(`Network connection lost ${DOC_KEY}`);
    });
    expect(r).toEqual({ ok: false, kind: "transport", message: "network error: TypeError" });
  });
  it("timeout: a fetch that never resolves → transport 'timeout'", async () => {
    const r = await call(() => new Promise<Response>(() => undefined), { timeoutMs: 30 });
    expect(r).toEqual({ ok: false, kind: "transport", message: "timeout" });
  });
  it("timeout also covers a body that never finishes", async () => {
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("<xml><return_code>"));
      },
    });
    const r = await call(() => new Response(stalled, { status: 200 }), { timeoutMs: 30 });
    expect(r).toEqual({ ok: false, kind: "transport", message: "timeout" });
  });
});
