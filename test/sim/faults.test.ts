// Fault injection (/__sim/faults) and the remaining control endpoints (reset, received, the list, errors).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import type { Simulator, SimulatorOptions } from "../../sim/core.ts";
import { APPID, MCH, KEY, officialSign, parse, toXml } from "./peer.ts";

let sim: Simulator;
function make(over: Partial<SimulatorOptions> = {}) {
  sim?.close();
  sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: "sec", delivery: "outbox", closeMinAgeSeconds: 0, ...over });
}
beforeEach(() => make());
afterEach(() => sim.close());

const control = async (path: string, body?: unknown) => {
  const res = await sim.fetch(new Request("http://sim.test" + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }));
  return { status: res.status, body: await res.json() };
};
const fault = (path: string, f: string, extra: Record<string, unknown> = {}) => control("/__sim/faults", { path, fault: f, ...extra });
let n = 0;
function orderXml(outTradeNo = "F1") {
  const f: Record<string, string> = {
    appid: APPID, mch_id: MCH, nonce_str: `n${++n}`, body: "Tea", out_trade_no: outTradeNo, total_fee: "1", spbill_create_ip: "1.2.3.4",
    notify_url: "https://shop.test/n", trade_type: "JSAPI", openid: sim.openidFor("alice"),
  };
  f.sign = officialSign(f);
  return toXml(f);
}
const unified = (xml = orderXml(), signal?: AbortSignal) => sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method: "POST", body: xml, signal }));
const orderCount = async () => (await control("/__sim/orders")).body.orders.length;

describe("POST /__sim/faults", () => {
  it("systemerror: signed result_code=FAIL SYSTEMERROR, request not processed; then normal again", async () => {
    expect((await fault("/pay/unifiedorder", "systemerror")).status).toBe(200);
    const f = parse(await (await unified()).text());
    expect(f).toMatchObject({ return_code: "SUCCESS", result_code: "FAIL", err_code: "SYSTEMERROR" });
    expect(f.sign).toBe(officialSign(f));
    expect(await orderCount()).toBe(0);
    expect(parse(await (await unified()).text()).result_code).toBe("SUCCESS");
  });

  it("http500 / html / empty / return_fail / doctype, each once, in order (times)", async () => {
    await fault("/pay/unifiedorder", "http500", { times: 2 });
    await fault("/pay/unifiedorder", "html");
    await fault("/pay/unifiedorder", "empty");
    await fault("/pay/unifiedorder", "return_fail");
    await fault("/pay/unifiedorder", "doctype");
    const r1 = await unified();
    expect(r1.status).toBe(500);
    expect((await unified()).status).toBe(500);
    const html = await unified();
    expect([html.status, html.headers.get("content-type")]).toEqual([200, "text/html"]);
    expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
    const empty = await unified();
    expect([empty.status, await empty.text()]).toEqual([200, ""]);
    expect(parse(await (await unified()).text())).toEqual({ return_code: "FAIL", return_msg: "系统繁忙，请稍后再试" });
    expect(await (await unified()).text()).toContain("<!DOCTYPE");
    expect(await orderCount()).toBe(0);
    expect(parse(await (await unified()).text()).result_code).toBe("SUCCESS");
    expect((await control("/__sim/received?path=/pay/unifiedorder")).body.requests).toHaveLength(7);
  });

  it("truncated and bad_sign: the request IS processed, the reply is damaged", async () => {
    await fault("/pay/unifiedorder", "truncated");
    const t = await (await unified(orderXml("T1"))).text();
    expect(t.startsWith("<xml>")).toBe(true);
    expect(t.endsWith("</xml>")).toBe(false);
    await fault("/pay/unifiedorder", "bad_sign");
    const f = parse(await (await unified(orderXml("T2"))).text());
    expect(f.result_code).toBe("SUCCESS");
    expect(f.sign).toMatch(/^[0-9A-F]{32}$/);
    expect(f.sign).not.toBe(officialSign(f));
    expect((await control("/__sim/orders")).body.orders.map((o: { outTradeNo: string }) => o.outTradeNo)).toEqual(["T1", "T2"]);
    // re-entry with identical parameters recovers the same prepay_id
    const again = parse(await (await unified(orderXml("T2"))).text());
    expect(again.prepay_id).toBe((await control("/__sim/orders/T2")).body.prepayId);
  });

  it("timeout: never answers until the caller aborts (504 then), not processed; close() releases it too", async () => {
    await fault("/pay/unifiedorder", "timeout", { times: 2 });
    const ac = new AbortController();
    let settled = false;
    const p = unified(orderXml(), ac.signal).then((r) => ((settled = true), r));
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(false);
    ac.abort();
    expect((await p).status).toBe(504);
    expect(await orderCount()).toBe(0);
    const p2 = unified();
    await new Promise((r) => setTimeout(r, 10));
    sim.close();
    expect((await p2).status).toBe(504);
  });

  it("timeout falls back to faultTimeoutMs; timeout_after processes the request first", async () => {
    make({ faultTimeoutMs: 20 });
    await fault("/pay/unifiedorder", "timeout_after");
    const t0 = Date.now();
    expect((await unified(orderXml("TA1"))).status).toBe(504);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
    expect((await control("/__sim/orders/TA1")).body.state).toBe("NOTPAY");
  });

  it("systemerror_after, notenough, business and bill_creating on other paths", async () => {
    // pay an order first
    const u = parse(await (await unified(orderXml("P1"))).text());
    const p = { timeStamp: "1700000000", nonceStr: "x", package: `prepay_id=${u.prepay_id}`, signType: "MD5" };
    expect((await control("/__sim/pay", { payment: { ...p, paySign: officialSign({ appId: APPID, ...p }) }, notify: "none" })).status).toBe(200);
    const refund = async (no: string) => {
      const f: Record<string, string> = { appid: APPID, mch_id: MCH, nonce_str: `r${++n}`, out_trade_no: "P1", out_refund_no: no, total_fee: "1", refund_fee: "1" };
      f.sign = officialSign(f);
      return parse(await (await sim.fetch(new Request("http://sim.test/secapi/pay/refund", { method: "POST", body: toXml(f) }))).text());
    };
    await fault("/secapi/pay/refund", "notenough");
    expect(await refund("RF1")).toMatchObject({ result_code: "FAIL", err_code: "NOTENOUGH" });
    await fault("/secapi/pay/refund", "business", { errCode: "BIZERR_NEED_RETRY", errCodeDes: "退款业务流程错误，需要商户触发重试来解决" });
    expect(await refund("RF1")).toMatchObject({ result_code: "FAIL", err_code: "BIZERR_NEED_RETRY" });
    expect((await control("/__sim/orders/P1")).body.refunds).toEqual([]);
    await fault("/secapi/pay/refund", "systemerror_after");
    expect(await refund("RF1")).toMatchObject({ result_code: "FAIL", err_code: "SYSTEMERROR" });
    const view = (await control("/__sim/orders/P1")).body;
    expect(view.refunds.map((r: { outRefundNo: string }) => r.outRefundNo)).toEqual(["RF1"]); // accepted behind the error
    const retry = await refund("RF1");
    expect(retry).toMatchObject({ result_code: "SUCCESS", refund_id: view.refunds[0].refundId });
    await fault("/pay/downloadbill", "bill_creating");
    const f: Record<string, string> = { appid: APPID, mch_id: MCH, nonce_str: "b", bill_date: "20250101", bill_type: "ALL" };
    f.sign = officialSign(f);
    expect(parse(await (await sim.fetch(new Request("http://sim.test/pay/downloadbill", { method: "POST", body: toXml(f) }))).text())).toEqual({ return_code: "FAIL", return_msg: "Bill Creating" });
  });

  it("jscode2session faults: systemerror → errcode -1, http500, truncated JSON", async () => {
    const q = new URLSearchParams({ appid: APPID, secret: "sec", js_code: "amy-1", grant_type: "authorization_code" });
    const login = () => sim.fetch(new Request(`https://api.weixin.qq.com/sns/jscode2session?${q}`));
    await fault("/sns/jscode2session", "systemerror");
    await fault("/sns/jscode2session", "http500");
    await fault("/sns/jscode2session", "truncated");
    expect((await (await login()).json()).errcode).toBe(-1);
    expect((await login()).status).toBe(500);
    await expect((await login()).json()).rejects.toThrow();
    expect((await (await login()).json()).openid).toBe(sim.openidFor("amy")); // the code was never consumed by the faults
  });

  it("rejects unknown paths and faults", async () => {
    expect(await fault("/pay/nope", "http500")).toMatchObject({ status: 400 });
    expect(await fault("/pay/unifiedorder", "explode")).toMatchObject({ status: 400 });
    expect(await fault("/pay/unifiedorder", "http500", { times: 0 })).toMatchObject({ status: 400 });
  });
});

describe("other control endpoints", () => {
  it("reset clears orders, codes, received requests, faults, deliveries and the clock", async () => {
    await unified();
    await fault("/pay/unifiedorder", "http500");
    await control("/__sim/clock", { advanceSeconds: 60 });
    expect((await control("/__sim/reset", {})).body).toEqual({ ok: true });
    expect(await orderCount()).toBe(0);
    expect((await control("/__sim/received")).body.requests).toEqual([]);
    expect((await control("/__sim/deliveries")).body.deliveries).toEqual([]);
    expect((await control("/__sim/clock")).body.offsetMs).toBe(0);
    expect(parse(await (await unified()).text()).result_code).toBe("SUCCESS"); // the fault is gone
  });

  it("unknown control endpoints, bad JSON and unknown resources answer JSON errors", async () => {
    expect(await control("/__sim/nope")).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await control("/__sim/orders/none")).toMatchObject({ status: 404, body: { code: "UNKNOWN_ORDER" } });
    expect(await control("/__sim/deliveries/d999/result", { status: 200, body: "" })).toMatchObject({ status: 404 });
    const bad = await sim.fetch(new Request("http://sim.test/__sim/pay", { method: "POST", body: "{nope" }));
    expect([bad.status, (await bad.json()).code]).toEqual([400, "BAD_JSON"]);
    const other = await sim.fetch(new Request("http://sim.test/cgi-bin/token"));
    expect(other.status).toBe(404);
  });

  it("GET /__sim/ lists every control endpoint with a description, and each listed one is routed", async () => {
    const { status, body } = await control("/__sim/");
    expect(status).toBe(200);
    const endpoints = body.endpoints as { method: string; path: string; description: string }[];
    expect(endpoints.map((e) => `${e.method} ${e.path}`).sort()).toEqual([
      "GET /__sim/", "GET /__sim/clock", "GET /__sim/deliveries", "GET /__sim/faults", "GET /__sim/health", "GET /__sim/orders",
      "GET /__sim/orders/:outTradeNo", "GET /__sim/received", "GET /__sim/refunds/:outRefundNo", "POST /__sim/clock",
      "POST /__sim/deliveries/:id/result", "POST /__sim/deliveries/take", "POST /__sim/faults", "POST /__sim/openid", "POST /__sim/pay",
      "POST /__sim/refunds/complete", "POST /__sim/reset",
      // the shipping-information service (sim/shipping-control.ts)
      "GET /__sim/push", "GET /__sim/shipping/:transactionId", "GET /__sim/shipping/settings", "GET /__sim/tokens", "POST /__sim/push",
      "POST /__sim/shipping/confirm", "POST /__sim/shipping/notify-shipped", "POST /__sim/shipping/remind", "POST /__sim/shipping/settings",
      "POST /__sim/shipping/settle", "POST /__sim/tokens/expire",
      // API v3 (sim/v3/control.ts)
      "GET /__sim/v3", "POST /__sim/v3/mode", "POST /__sim/v3/notify",
    ].sort());
    for (const e of endpoints) expect(e.description, e.path).toMatch(/^\S.{8,}/);
    for (const e of endpoints) {
      // a listed endpoint may refuse an empty body or an unknown id, but it is never "no such endpoint"
      const path = e.path.replace(/:[A-Za-z]+/g, "unknown");
      const res = await sim.fetch(new Request("http://sim.test" + path, e.method === "POST" ? { method: "POST", body: "{}" } : {}));
      expect((await res.json()).code, `${e.method} ${e.path}`).not.toBe("NOT_FOUND");
    }
  });

  it("answers on any host (WeChat's real hosts, sim.test, 127.0.0.1)", async () => {
    for (const host of ["https://api.mch.weixin.qq.com", "http://sim.test", "http://127.0.0.1:8788"]) {
      const res = await sim.fetch(new Request(`${host}/pay/unifiedorder`, { method: "POST", body: orderXml(`H${++n}`) }));
      expect(parse(await res.text()).result_code).toBe("SUCCESS");
    }
  });
});
