// API v3 trust modes (public key, platform certificate, migrating), /v3/certificates, the mode control,
// configuration errors, response faults, and callbacks delivered over real HTTP.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import { simOptionsFromEnv, startSimServer } from "../../sim/server.ts";
import { APIV3_KEY, MERCHANT_KEY, PUBLIC_KEY_ID, V3Client, gcmDecrypt, keyFile, openCallback, v3PaySign, verifySigned } from "./v3-client.ts";
import { APPID, CERT_SERIAL, KEY_V2, MCH, TRUST, makeV3, paidV3, placeV3, prepayBody } from "./v3-peer.ts";
import type { V3Harness } from "./v3-peer.ts";

let h: V3Harness;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  h?.close();
  while (cleanups.length) await cleanups.pop()!();
});

const query = (no: string, wechatpaySerial?: string) =>
  h.client.call("GET", `/v3/pay/transactions/out-trade-no/${no}?mchid=${MCH}`, undefined, wechatpaySerial ? { headers: { "Wechatpay-Serial": wechatpaySerial } } : {});
const takeAll = async () => (await h.control("/__sim/deliveries/take", {})).body.deliveries as { headers: Record<string, string>; body: string }[];
const ONLY_PUBLIC = () => ({ [PUBLIC_KEY_ID]: TRUST()[PUBLIC_KEY_ID]! });
const ONLY_CERT = () => ({ [CERT_SERIAL]: TRUST()[CERT_SERIAL]! });

describe("trust modes", () => {
  it("publicKey (default): replies and callbacks signed by PUB_KEY_ID_…; /v3/certificates → signed 404 RESOURCE_NOT_EXISTS", async () => {
    h = makeV3();
    await placeV3(h, "MOD0001");
    const r = await query("MOD0001");
    expect([r.headers.get("Wechatpay-Serial"), verifySigned(r.headers, r.raw, ONLY_PUBLIC())]).toEqual([PUBLIC_KEY_ID, true]);
    const certs = await h.client.call("GET", "/v3/certificates");
    expect([certs.status, certs.json!.code]).toEqual([404, "RESOURCE_NOT_EXISTS"]);
    expect(certs.json!.message).toContain("微信支付公钥");
    expect(verifySigned(certs.headers, certs.raw, ONLY_PUBLIC())).toBe(true);
  });

  it("certificate: replies and callbacks signed by the platform certificate, whatever Wechatpay-Serial the merchant sends", async () => {
    h = makeV3({ v3: { mode: "certificate" } });
    await paidV3(h, "MOD0002", {}, "normal");
    for (const serial of [undefined, PUBLIC_KEY_ID]) {
      const r = await query("MOD0002", serial);
      expect([r.headers.get("Wechatpay-Serial"), verifySigned(r.headers, r.raw, ONLY_CERT())]).toEqual([CERT_SERIAL, true]);
    }
    const [cb] = await takeAll();
    expect([cb!.headers["Wechatpay-Serial"], verifySigned(cb!.headers, cb!.body, ONLY_CERT())]).toEqual([CERT_SERIAL, true]);
  });

  it("/v3/certificates lists the platform certificates, each PEM encrypted under the APIv3 key (associated_data certificate)", async () => {
    h = makeV3({ v3: { mode: "certificate" } });
    const r = await h.client.call("GET", "/v3/certificates");
    expect(r.status).toBe(200);
    expect(verifySigned(r.headers, r.raw, ONLY_CERT())).toBe(true);
    const [entry] = r.json!.data;
    expect(entry).toMatchObject({ serial_no: CERT_SERIAL, effective_time: "2021-04-27T16:55:23+08:00", expire_time: "2031-04-25T16:55:23+08:00", encrypt_certificate: { algorithm: "AEAD_AES_256_GCM", associated_data: "certificate" } });
    const e = entry.encrypt_certificate;
    expect(gcmDecrypt(APIV3_KEY, e.nonce, e.associated_data, e.ciphertext).trim()).toBe(keyFile("go-sdk-test.certificate.pem").trim());
  });

  it("/v3/certificates leaves out certificates outside their validity (the clock is past the Java test certificate's expiry)", async () => {
    h = makeV3({ v3: { mode: "certificate", platformCertificates: [
      { privateKey: keyFile("java-sdk.wechat_pay_private_key.pem"), certificate: keyFile("java-sdk.wechat_pay_certificate.pem") },
      { privateKey: keyFile("go-sdk-test.private-key.pkcs8.pem"), certificate: keyFile("go-sdk-test.certificate.pem") },
    ] } });
    const r = await h.client.call("GET", "/v3/certificates");
    expect(r.json!.data.map((d: { serial_no: string }) => d.serial_no)).toEqual([CERT_SERIAL]);
    // the expired one still signs when the merchant names it (WeChat's choice during a rotation)
    const named = await query("NOPE001", "440024045C4A427599D09BB4E3DE0279F2E813FD");
    expect(named.headers.get("Wechatpay-Serial")).toBe("440024045C4A427599D09BB4E3DE0279F2E813FD");
  });

  it("migrating: a reply is signed by the public key when the request names its id, else by the certificate; callbacks take turns", async () => {
    h = makeV3({ v3: { mode: "migrating" } });
    await placeV3(h, "MIG0001");
    const withId = await query("MIG0001", PUBLIC_KEY_ID);
    expect([withId.headers.get("Wechatpay-Serial"), verifySigned(withId.headers, withId.raw, ONLY_PUBLIC())]).toEqual([PUBLIC_KEY_ID, true]);
    const without = await query("MIG0001");
    expect([without.headers.get("Wechatpay-Serial"), verifySigned(without.headers, without.raw, ONLY_CERT())]).toEqual([CERT_SERIAL, true]);
    for (const no of ["MIG0002", "MIG0003", "MIG0004"]) await paidV3(h, no, {}, "normal");
    const serials = (await takeAll()).map((d) => {
      expect(verifySigned(d.headers, d.body, TRUST())).toBe(true);
      // each verifies only with its own key: the two keys differ
      expect(verifySigned(d.headers, d.body, d.headers["Wechatpay-Serial"] === PUBLIC_KEY_ID ? ONLY_CERT() : ONLY_PUBLIC())).toBe(false);
      return d.headers["Wechatpay-Serial"];
    });
    expect(serials).toEqual([PUBLIC_KEY_ID, CERT_SERIAL, PUBLIC_KEY_ID]);
    expect((await h.client.call("GET", "/v3/certificates")).status).toBe(200);
  });

  it("POST /__sim/v3/mode switches mode and callback signer until a reset; a mode without its key → 409", async () => {
    h = makeV3();
    expect((await h.control("/__sim/v3/mode", { mode: "migrating", callbackSigner: "certificate" })).body).toMatchObject({ mode: "migrating", callbackSigner: "certificate" });
    for (const no of ["SW00001", "SW00002"]) await paidV3(h, no, {}, "normal");
    expect((await takeAll()).map((d) => d.headers["Wechatpay-Serial"])).toEqual([CERT_SERIAL, CERT_SERIAL]);
    expect((await h.control("/__sim/v3/mode", { mode: "both" })).status).toBe(400);
    expect((await h.control("/__sim/v3/mode", { callbackSigner: "random" })).status).toBe(400);
    await h.control("/__sim/reset", {});
    expect((await h.control("/__sim/v3")).body).toMatchObject({ mode: "publicKey", callbackSigner: "alternate" });
    h.close();
    h = makeV3({ v3: { mode: "certificate", publicKey: null } });
    expect(await h.control("/__sim/v3/mode", { mode: "migrating" })).toMatchObject({ status: 409, body: { code: "MODE_UNAVAILABLE" } });
  });

  it("GET /__sim/v3 shows what a merchant configures, never a private key or the APIv3 key", async () => {
    h = makeV3();
    const { body } = await h.control("/__sim/v3");
    expect(body).toMatchObject({ mode: "publicKey", mchId: MCH, merchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115", publicKey: { id: PUBLIC_KEY_ID } });
    expect(body.publicKey.pem.trim()).toBe(keyFile("java-sdk.wechat_pay_public_key.pem").trim());
    expect(body.certificates.map((c: { serialNo: string }) => c.serialNo)).toEqual([CERT_SERIAL]);
    const text = JSON.stringify(body);
    for (const secret of ["PRIVATE KEY", "TESTING KEY", APIV3_KEY]) expect(text).not.toContain(secret);
  });

  it("refuses a configuration it cannot serve, naming the problem", () => {
    const make = (v3: object) => () => createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY_V2, appSecret: "s", delivery: "outbox", v3 }).close();
    expect(make({ apiV3Key: "testAPIv3Key0000" })).toThrow(/32-character APIv3 key/);
    expect(make({ publicKey: { id: "0100000000000000000000000000000001", privateKey: keyFile("java-sdk.wechat_pay_private_key.pem") } })).toThrow(/PUB_KEY_ID_/);
    expect(make({ platformCertificates: [{ privateKey: keyFile("java-sdk.wechat_pay_private_key.pem"), certificate: keyFile("go-sdk-test.certificate.pem") }] })).toThrow(/does not belong to certificate D7CE59D1F522D701/);
    expect(make({ mode: "certificate", platformCertificates: [] })).toThrow(/needs a platform certificate/);
    expect(make({ merchantPublicKey: keyFile("java-sdk.merchant_private_key.pem") })).toThrow(/merchantSerialNo/);
  });
});

describe("response faults on the v3 routes", () => {
  const prepay = () => h.client.call("POST", "/v3/pay/transactions/jsapi", prepayBody(h, `FLT${Math.random().toString().slice(2, 10)}`));
  const fault = (body: Record<string, unknown>) => h.control("/__sim/faults", { path: "/v3/pay/transactions/jsapi", ...body });

  it("spoil the signature of a processed reply: probe, unknown serial, bad signature, none at all", async () => {
    h = makeV3();
    for (const f of ["probe", "unknown_serial", "bad_sign", "unsigned"]) expect((await fault({ fault: f })).status).toBe(200);
    const probe = await prepay();
    expect([probe.status, probe.headers.get("Wechatpay-Signature")?.startsWith("WECHATPAY/SIGNTEST/")]).toEqual([200, true]);
    const unknown = await prepay();
    expect([unknown.headers.get("Wechatpay-Serial"), verifySigned(unknown.headers, unknown.raw, TRUST())]).toEqual(["PUB_KEY_ID_0199999999999999999999999999999999", false]);
    const badSign = await prepay();
    expect([badSign.status, verifySigned(badSign.headers, badSign.raw, TRUST())]).toEqual([200, false]);
    const unsigned = await prepay();
    expect([unsigned.status, unsigned.headers.get("Wechatpay-Signature"), unsigned.json!.prepay_id]).toEqual([200, null, expect.stringMatching(/^wx/)]);
    expect((await h.control("/__sim/orders")).body.orders).toHaveLength(4); // each was processed
  });

  it("scripted errors: SYSTEM_ERROR, NOT_ENOUGH, a business code with its status, transport failures; v2-only faults are refused here", async () => {
    h = makeV3({ faultTimeoutMs: 50 });
    await fault({ fault: "business", errCode: "FREQUENCY_LIMITED", errCodeDes: "频率超限", status: 429 });
    const limited = await prepay();
    expect([limited.status, limited.json, verifySigned(limited.headers, limited.raw, TRUST())]).toEqual([429, { code: "FREQUENCY_LIMITED", message: "频率超限" }, true]);
    await fault({ fault: "systemerror" });
    expect((await prepay()).json!.code).toBe("SYSTEM_ERROR");
    await fault({ fault: "systemerror_after" });
    expect((await prepay()).status).toBe(500);
    await fault({ fault: "http500" });
    expect((await prepay()).raw).toBe("Internal Server Error");
    await fault({ fault: "html" });
    expect((await prepay()).headers.get("Wechatpay-Signature")).toBeNull();
    await fault({ fault: "timeout" });
    expect((await prepay()).status).toBe(504);
    await fault({ fault: "truncated" });
    expect((await prepay()).json).toBeNull();
    await h.control("/__sim/faults", { path: "/v3/refund/domestic/refunds", fault: "notenough" });
    const refund = await h.client.call("POST", "/v3/refund/domestic/refunds", { out_trade_no: "X", out_refund_no: "R", amount: { refund: 1, total: 1, currency: "CNY" } });
    expect([refund.status, refund.json!.code]).toEqual([403, "NOT_ENOUGH"]);
    for (const f of ["doctype", "return_fail", "token_expired"]) expect((await fault({ fault: f })).status, f).toBe(400);
    expect((await h.control("/__sim/faults", { path: "/pay/unifiedorder", fault: "probe" })).status).toBe(400);
    expect((await fault({ fault: "business", status: 200 })).status).toBe(400);
  });

  it("GET /__sim/received keeps each v3 call with its route and headers", async () => {
    h = makeV3({}, { wechatpaySerial: PUBLIC_KEY_ID });
    await placeV3(h, "RCV0001");
    await query("RCV0001");
    const byRoute = (await h.control("/__sim/received?path=/v3/pay/transactions/out-trade-no/{out_trade_no}")).body.requests;
    expect(byRoute).toHaveLength(1);
    expect(byRoute[0]).toMatchObject({ method: "GET", path: "/v3/pay/transactions/out-trade-no/RCV0001", query: { mchid: MCH }, headers: { "wechatpay-serial": PUBLIC_KEY_ID, accept: "application/json" } });
    expect(byRoute[0].headers.authorization).toMatch(/^WECHATPAY2-SHA256-RSA2048 mchid="10000100"/);
    expect((await h.control("/__sim/received?path=/v3/pay/transactions/jsapi")).body.requests[0].raw).toContain('"out_trade_no":"RCV0001"');
  });
});

describe("over real HTTP (npm run sim)", () => {
  it("simOptionsFromEnv: v3 options only when set (SIM_V3_MODE, WECHAT_APIV3_KEY, WECHAT_MCH_SERIAL + WECHAT_MCH_PRIVATE_KEY)", async () => {
    expect(simOptionsFromEnv({}).v3).toBeUndefined();
    const o = simOptionsFromEnv({ SIM_V3_MODE: "migrating", WECHAT_APIV3_KEY: APIV3_KEY, WECHAT_MCH_SERIAL: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115", WECHAT_MCH_PRIVATE_KEY: keyFile("java-sdk.merchant_private_key.pem") });
    expect(o.v3).toMatchObject({ mode: "migrating", apiV3Key: APIV3_KEY, merchantSerialNo: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115" });
    const sim = createSimulator({ ...(o as Parameters<typeof createSimulator>[0]), delivery: "outbox" });
    cleanups.push(() => sim.close());
    const client = new V3Client((r) => sim.fetch(r), { mchid: "10000100" });
    const r = await client.call("GET", "/v3/certificates");
    expect([r.status, r.headers.get("Wechatpay-Serial")]).toEqual([200, CERT_SERIAL]);
    expect(() => simOptionsFromEnv({ SIM_V3_MODE: "both" })).toThrow(/SIM_V3_MODE/);
    expect(() => simOptionsFromEnv({ WECHAT_MCH_SERIAL: "X" })).toThrow(/go together/);
  });

  it("the server answers v3 calls and POSTs signed callbacks to the merchant, who acknowledges with 204", async () => {
    const received: { headers: Record<string, string>; body: string }[] = [];
    const merchant = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers as Record<string, string>, body });
        const ok = verifySigned(Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.replace(/(^|-)\w/g, (m) => m.toUpperCase()), String(v)])), body, TRUST());
        res.writeHead(ok ? 204 : 401, ok ? {} : { "Content-Type": "application/json" });
        res.end(ok ? "" : '{"code":"FAIL","message":"签名错误"}');
      });
    });
    await new Promise<void>((r) => merchant.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => merchant.close(r)));
    const notifyUrl = `http://127.0.0.1:${(merchant.address() as AddressInfo).port}/wechat/v3/pay/notify`;
    const server = await startSimServer({ port: 0, log: () => {}, timeScale: 0, closeMinAgeSeconds: 0 });
    cleanups.push(() => server.close());
    const client = new V3Client((r) => fetch(r), { mchid: "10000100", base: server.url });
    const r = await client.call("POST", "/v3/pay/transactions/jsapi", { appid: "wxd930ea5d5a258f4f", mchid: "10000100", description: "HTTP", out_trade_no: "HTTP0001", notify_url: notifyUrl, amount: { total: 1 }, payer: { openid: server.sim.openidFor("alice") } });
    expect([r.status, verifySigned(r.headers, r.raw, TRUST())]).toEqual([200, true]);
    const p = { timeStamp: String(Math.floor(Date.now() / 1000)), nonceStr: "n", package: `prepay_id=${r.json!.prepay_id}`, signType: "RSA" };
    const paySign = v3PaySign("wxd930ea5d5a258f4f", p.timeStamp, p.nonceStr, p.package, MERCHANT_KEY());
    const paid = await fetch(`${server.url}/__sim/pay`, { method: "POST", body: JSON.stringify({ payment: { ...p, paySign } }) });
    expect(paid.status).toBe(200);
    // a probe first, then WeChat's genuine retry
    await fetch(`${server.url}/__sim/v3/notify`, { method: "POST", body: JSON.stringify({ outTradeNo: "HTTP0001", spoil: "probe", then: "genuine" }) });
    await server.sim.idle();
    for (let i = 0; i < 50 && received.length < 3; i++) await new Promise((res) => setTimeout(res, 20));
    await server.sim.idle();
    const deliveries = (await (await fetch(`${server.url}/__sim/deliveries`)).json()).deliveries as { status: string; attempts: { status: number }[] }[];
    expect(deliveries.map((d) => [d.status, d.attempts.map((a) => a.status)])).toEqual([["acknowledged", [204]], ["acknowledged", [401, 204]]]);
    expect(received).toHaveLength(3);
    expect(received[0]!.headers["content-type"]).toBe("application/json");
    expect(openCallback(received[0]!.body).out_trade_no).toBe("HTTP0001");
  });
});
