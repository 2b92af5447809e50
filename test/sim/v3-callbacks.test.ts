// API v3 callbacks: the payment callback of /__sim/pay (envelope, GCM, signature, retries with fresh
// signatures, the 200/204 ack) and the spoiled callbacks of POST /__sim/v3/notify.
import { afterEach, describe, expect, it } from "vitest";
import { APIV3_KEY, MERCHANT_KEY, PUBLIC_KEY_ID, openCallback, publicKey, rsaVerify, v3PaySign, verifySigned } from "./v3-client.ts";
import { APPID, MCH, TRUST, makeV3, paidV3, placeV3 } from "./v3-peer.ts";
import type { V3Harness } from "./v3-peer.ts";

let h: V3Harness;
afterEach(() => h?.close());

type Taken = { id: string; kind: string; url: string; body: string; contentType: string; headers?: Record<string, string>; event: string; attempt: number };
const take = async (): Promise<Taken[]> => (await h.control("/__sim/deliveries/take", {})).body.deliveries;
const report = (id: string, r: unknown) => h.control(`/__sim/deliveries/${id}/result`, r);
const delivery = async (id: string) => ((await h.control("/__sim/deliveries")).body.deliveries as { id: string; status: string; attempts: unknown[] }[]).find((d) => d.id === id)!;

describe("the payment callback of an API v3 order", () => {
  it("POST notify_url: JSON envelope, resource AEAD_AES_256_GCM under the APIv3 key, signed with the public key", async () => {
    const now = Date.now();
    h = makeV3({ now: () => now });
    const paid = await paidV3(h, "CB00001", { attach: "自定义" }, "normal");
    expect(paid.deliveryIds).toHaveLength(1);
    const [d] = await take();
    expect(d).toMatchObject({ kind: "pay", url: "https://shop.test/wechat/v3/pay/notify", contentType: "application/json", event: "TRANSACTION.SUCCESS", attempt: 1 });
    expect(d!.headers!["Wechatpay-Serial"]).toBe(PUBLIC_KEY_ID);
    expect(d!.headers!["Wechatpay-Signature-Type"]).toBe("WECHATPAY2-SHA256-RSA2048");
    expect(Number(d!.headers!["Wechatpay-Timestamp"])).toBe(Math.floor(now / 1000));
    expect(verifySigned(d!.headers!, d!.body, TRUST())).toBe(true);
    const env = JSON.parse(d!.body);
    expect(Object.keys(env)).toEqual(["id", "create_time", "resource_type", "event_type", "summary", "resource"]);
    expect(env).toMatchObject({ resource_type: "encrypt-resource", event_type: "TRANSACTION.SUCCESS", summary: "支付成功", resource: { original_type: "transaction", algorithm: "AEAD_AES_256_GCM", associated_data: "transaction" } });
    expect(env.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(env.resource.nonce).toMatch(/^[0-9A-Za-z]{12}$/);
    const tx = openCallback(d!.body);
    expect(tx).toMatchObject({
      transaction_id: paid.transactionId, out_trade_no: "CB00001", appid: APPID, mchid: MCH, trade_type: "JSAPI", trade_state: "SUCCESS", trade_state_desc: "支付成功",
      bank_type: "OTHERS", attach: "自定义", payer: { openid: h.sim.openidFor("alice") }, amount: { total: 100, payer_total: 100, currency: "CNY", payer_currency: "CNY" },
    });
    expect(() => openCallback(d!.body, APIV3_KEY.replace(/.$/, "X"))).toThrow(); // only the APIv3 key opens it
    expect(await report(d!.id, { status: 200, body: "" })).toMatchObject({ body: { acknowledged: true } });
  });

  it("checks the RSA paySign over appId\\ntimeStamp\\nnonceStr\\npackage\\n with the merchant certificate; a failed payment sends nothing", async () => {
    h = makeV3();
    const { payment } = await placeV3(h, "PS00001");
    const other = v3PaySign("wx0000000000000001", payment.timeStamp, payment.nonceStr, payment.package, MERCHANT_KEY());
    expect((await h.control("/__sim/pay", { payment: { ...payment, paySign: other } })).body.code).toBe("BAD_PAYSIGN");
    expect((await h.control("/__sim/pay", { payment: { ...payment, signType: "MD5" } })).body.code).toBe("BAD_SIGN_TYPE");
    expect((await h.control("/__sim/pay", { payment: { ...payment, timeStamp: String(Date.now()) } })).body.code).toBe("BAD_TIMESTAMP");
    const failed = await h.control("/__sim/pay", { payment, result: "FAIL" });
    expect(failed.body).toMatchObject({ state: "PAYERROR", deliveryIds: [] });
    expect(await take()).toEqual([]);
  });

  it("retries on WeChat's schedule until 200/204, each attempt signed afresh (new nonce), the same body and id", async () => {
    let now = Date.UTC(2026, 0, 10, 2, 0, 0);
    h = makeV3({ now: () => now });
    await paidV3(h, "RT00001", {}, "normal");
    const [a] = await take();
    expect(await report(a!.id, { status: 500, body: '{"code":"FAIL","message":"失败"}' })).toMatchObject({ body: { acknowledged: false, nextAttemptAt: now + 15_000 } });
    now += 15_000;
    const [b] = await take();
    expect(b!.body).toBe(a!.body);
    expect(b!.headers!["Wechatpay-Nonce"]).not.toBe(a!.headers!["Wechatpay-Nonce"]);
    expect(Number(b!.headers!["Wechatpay-Timestamp"]) - Number(a!.headers!["Wechatpay-Timestamp"])).toBe(15);
    expect(verifySigned(b!.headers!, b!.body, TRUST())).toBe(true);
    expect(await report(b!.id, { status: 401, body: "" })).toMatchObject({ body: { acknowledged: false, nextAttemptAt: now + 15_000 } });
    now += 15_000;
    const [c] = await take();
    expect(await report(c!.id, { status: 204, body: "" })).toMatchObject({ body: { acknowledged: true } });
    const view = await delivery(a!.id);
    expect(view).toMatchObject({ status: "acknowledged", api: "v3" });
    expect((view.attempts as { headers: Record<string, string> }[]).map((x) => x.headers["Wechatpay-Nonce"])).toHaveLength(3);
  });

  it("copies: duplicate and concurrent notifications carry one notification id", async () => {
    h = makeV3();
    const { payment } = await placeV3(h, "DUP0001");
    await h.control("/__sim/pay", { payment, notify: "concurrent", copies: 3 });
    const copies = await take();
    expect(copies).toHaveLength(3);
    expect(new Set(copies.map((c) => JSON.parse(c.body).id)).size).toBe(1);
  });
});

describe("POST /__sim/v3/notify: callbacks a merchant must refuse (or accept)", () => {
  const notify = (body: unknown) => h.control("/__sim/v3/notify", body);
  const one = async (body: Record<string, unknown>) => {
    const r = await notify(body);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const [d] = await take();
    return d!;
  };

  it("a signature probe: WECHATPAY/SIGNTEST/ signature, one send; with then=genuine the retry verifies", async () => {
    h = makeV3({ timeScale: 0 });
    await paidV3(h, "PRB0001");
    const probe = await one({ outTradeNo: "PRB0001", spoil: "probe" });
    expect(probe.headers!["Wechatpay-Signature"]).toMatch(/^WECHATPAY\/SIGNTEST\/[A-Za-z0-9+/=]+$/);
    expect(verifySigned(probe.headers!, probe.body, TRUST())).toBe(false);
    await report(probe.id, { status: 401, body: '{"code":"FAIL","message":"签名错误"}' });
    expect((await delivery(probe.id)).status).toBe("gave_up");
    const first = await one({ outTradeNo: "PRB0001", spoil: "probe", then: "genuine" });
    await report(first.id, { status: 401, body: "" });
    const [retry] = await take();
    expect(verifySigned(retry!.headers!, retry!.body, TRUST())).toBe(true);
    expect(openCallback(retry!.body).out_trade_no).toBe("PRB0001");
  });

  it("unknown serial, stale timestamp, bad or missing signature", async () => {
    const now = Date.now();
    h = makeV3({ now: () => now });
    await paidV3(h, "SPL0001");
    const unknown = await one({ outTradeNo: "SPL0001", spoil: "unknown_serial" });
    expect(unknown.headers!["Wechatpay-Serial"]).toBe("PUB_KEY_ID_0199999999999999999999999999999999");
    const msg = (d: Taken) => `${d.headers!["Wechatpay-Timestamp"]}\n${d.headers!["Wechatpay-Nonce"]}\n${d.body}\n`;
    expect(rsaVerify(msg(unknown), unknown.headers!["Wechatpay-Signature"]!, publicKey("java-sdk.wechat_pay_public_key.pem"))).toBe(true); // only the serial is wrong
    expect(verifySigned(unknown.headers!, unknown.body, TRUST())).toBe(false);
    const stale = await one({ outTradeNo: "SPL0001", spoil: "stale_timestamp" });
    expect(Number(stale.headers!["Wechatpay-Timestamp"])).toBe(Math.floor(now / 1000) - 360);
    expect(verifySigned(stale.headers!, stale.body, TRUST())).toBe(true); // signed correctly: only the clock check refuses it
    expect(Number((await one({ outTradeNo: "SPL0001", spoil: "stale_timestamp", ageSeconds: 301 })).headers!["Wechatpay-Timestamp"])).toBe(Math.floor(now / 1000) - 301);
    expect(verifySigned((await one({ outTradeNo: "SPL0001", spoil: "bad_sign" })).headers!, stale.body, TRUST())).toBe(false);
    const unsigned = await one({ outTradeNo: "SPL0001", spoil: "unsigned" });
    expect(Object.keys(unsigned.headers!).filter((k) => k.startsWith("Wechatpay-"))).toEqual([]);
  });

  it("edited bodies fail the signature; broken resources pass it and fail the GCM tag; an indented body is genuine", async () => {
    h = makeV3();
    await paidV3(h, "BDY0001");
    const tampered = await one({ outTradeNo: "BDY0001", spoil: "tampered_body" });
    expect(verifySigned(tampered.headers!, tampered.body, TRUST())).toBe(false);
    expect(JSON.parse(tampered.body).create_time).not.toBe(JSON.parse((await delivery(tampered.id) as unknown as { body: string }).body).create_time);
    const reserialised = await one({ outTradeNo: "BDY0001", spoil: "reserialized_body" });
    expect(reserialised.body).toContain('\n "id": "');
    expect(verifySigned(reserialised.headers!, reserialised.body, TRUST())).toBe(false);
    expect(verifySigned(reserialised.headers!, JSON.stringify(JSON.parse(reserialised.body)), TRUST())).toBe(true); // it was signed compact
    const tag = await one({ outTradeNo: "BDY0001", spoil: "gcm_tag" });
    expect(verifySigned(tag.headers!, tag.body, TRUST())).toBe(true);
    expect(() => openCallback(tag.body)).toThrow();
    const aad = await one({ outTradeNo: "BDY0001", spoil: "wrong_aad" });
    expect(verifySigned(aad.headers!, aad.body, TRUST())).toBe(true);
    expect(JSON.parse(aad.body).resource.associated_data).toBe("refund");
    expect(() => openCallback(aad.body)).toThrow();
    const pretty = await one({ outTradeNo: "BDY0001", pretty: true });
    expect(pretty.body).toContain('\n  "resource": {');
    expect(verifySigned(pretty.headers!, pretty.body, TRUST())).toBe(true);
    expect(openCallback(pretty.body).out_trade_no).toBe("BDY0001");
  });

  it("a spoiled callback may claim an unpaid order was paid (a forgery), and changes nothing; a genuine one needs a paid order", async () => {
    h = makeV3();
    await placeV3(h, "FRG0001");
    expect(await notify({ outTradeNo: "FRG0001" })).toMatchObject({ status: 409, body: { code: "NOT_PAID" } });
    const forged = await one({ outTradeNo: "FRG0001", spoil: "probe" });
    expect(openCallback(forged.body)).toMatchObject({ out_trade_no: "FRG0001", trade_state: "SUCCESS" });
    expect((await h.control("/__sim/orders/FRG0001")).body.state).toBe("NOTPAY");
    const stray = await one({ url: "https://shop.test/wechat/v3/pay/notify", spoil: "probe" });
    expect(stray.url).toBe("https://shop.test/wechat/v3/pay/notify");
    expect(openCallback(stray.body).out_trade_no).toMatch(/^SIMPROBE\d{12}$/);
    expect((await notify({})).status).toBe(400);
    expect((await notify({ outTradeNo: "FRG0001", spoil: "nope" })).status).toBe(400);
    expect((await notify({ outTradeNo: "NOPE" })).status).toBe(404);
    const { officialSign, parse, toXml } = await import("./peer.ts");
    const f: Record<string, string> = {
      appid: APPID, mch_id: MCH, nonce_str: "n", body: "v2", out_trade_no: "V2ORDER1", total_fee: "1", spbill_create_ip: "127.0.0.1", notify_url: "https://shop.test/wechat/pay/notify", trade_type: "JSAPI", openid: h.sim.openidFor("alice"),
    };
    f.sign = officialSign(f);
    expect(parse(await (await h.sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method: "POST", body: toXml(f) }))).text()).result_code).toBe("SUCCESS");
    expect(await notify({ outTradeNo: "V2ORDER1", spoil: "probe" })).toMatchObject({ status: 409, body: { code: "NOT_V3" } });
  });
});
