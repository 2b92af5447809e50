// API v3 over the simulator's fetch, with an independent client: the Authorization check, the signed
// replies, JSAPI prepay (rules and re-entry), query and close.
import { afterEach, describe, expect, it } from "vitest";
import { MERCHANT_KEY, PUBLIC_KEY_ID, authorization, privateKey, verifySigned } from "./v3-client.ts";
import { APPID, MCH, TRUST, makeV3, paidV3, placeV3, prepayBody } from "./v3-peer.ts";
import type { V3Harness } from "./v3-peer.ts";

let h: V3Harness;
afterEach(() => h?.close());

const PREPAY = "/v3/pay/transactions/jsapi";

describe("the Authorization check (401 SIGN_ERROR, unsigned, WeChat's messages)", () => {
  const refused = async (auth: string, body = JSON.stringify(prepayBody(h, "AUTH001"))) => {
    const r = await h.client.call("POST", PREPAY, body, { authorization: auth });
    expect(r.status).toBe(401);
    expect(r.headers.get("Wechatpay-Signature")).toBeNull();
    expect(r.json!.code).toBe("SIGN_ERROR");
    return r.json!;
  };
  const sign = (o: Partial<Parameters<typeof authorization>[0]> = {}) =>
    authorization({ method: "POST", pathAndQuery: PREPAY, body: JSON.stringify(prepayBody(h, "AUTH001")), mchid: MCH, serial: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115", key: MERCHANT_KEY(), ...o });

  it("accepts a correct header (pairs in any order) and refuses format, scheme, merchant, clock, serial and signature faults", async () => {
    h = makeV3();
    const good = sign();
    const reordered = good.replace(/^(\S+) (.*)$/, (_m, scheme: string, rest: string) => `${scheme} ${rest.split(",").reverse().join(",")}`);
    expect((await h.client.call("POST", PREPAY, prepayBody(h, "AUTH001"), { authorization: reordered })).status).toBe(200);
    expect((await refused("")).message).toBe("Http头Authorization值格式错误");
    expect((await refused(good.replace(/,signature="[^"]*"/, ""))).message).toBe("Http头Authorization值格式错误");
    expect((await refused(good.replace("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SM2-WITH-SM3"))).message).toBe("Http头Authorization认证类型不正确");
    expect((await refused(sign({ mchid: "1900000001" }))).message).toBe("商户未申请过证书。");
    const stale = String(Math.floor(Date.now() / 1000) - 301);
    expect((await refused(sign({ timestamp: stale }))).message).toBe("Http头Authorization中的timestamp与发起请求的时间不得超过5分钟");
    expect((await refused(sign({ timestamp: String(Date.now()) }))).message).toContain("5分钟"); // milliseconds
    expect((await refused(sign({ serial: "440024045C4A427599D09BB4E3DE0279F2E813FD" }))).message).toBe("商户证书序列号有误。");
    const otherKey = await refused(sign({ key: privateKey("java-sdk.wechat_pay_private_key.pem") }));
    expect(otherKey.message).toBe("错误的签名，验签失败");
    expect(otherKey.detail).toMatchObject({ field: "signature", issue: "sign not match", location: "authorization", sign_information: { method: "POST", url: PREPAY } });
    // the body re-serialised after signing (a classic): same JSON, other bytes → refused, with the byte length WeChat saw
    const pretty = JSON.stringify(prepayBody(h, "AUTH001"), null, 2);
    const reserialised = await refused(good, pretty);
    expect(reserialised.detail.sign_information.sign_message_length).toBe(Buffer.byteLength(`POST\n${PREPAY}\n`) + Buffer.byteLength(good.match(/timestamp="(\d+)"/)![1]! + "\n") + 33 + Buffer.byteLength(pretty) + 1);
    expect(reserialised.detail.sign_information.truncated_sign_message).toMatch(/\n\{\n  "app\n$/);
  });

  it("refuses a call without Accept or User-Agent (400 INVALID_REQUEST), before the signature", async () => {
    h = makeV3();
    for (const missing of ["Accept", "User-Agent"]) {
      const r = await h.client.call("GET", `/v3/pay/transactions/out-trade-no/NOPE001?mchid=${MCH}`, undefined, { headers: { [missing]: "" } });
      expect([r.status, r.json!.code, r.json!.message]).toEqual([400, "INVALID_REQUEST", "Http头缺少Accept或User-Agent"]);
    }
  });

  it("signs with the configured clock, not the /__sim/clock offset (advancing it for retries keeps signatures current)", async () => {
    h = makeV3();
    await h.control("/__sim/clock", { advanceSeconds: 86400 });
    const r = await h.client.call("GET", `/v3/pay/transactions/out-trade-no/NOPE001?mchid=${MCH}`);
    expect(r.status).toBe(404);
    expect(Math.abs(Number(r.headers.get("Wechatpay-Timestamp")) - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe("POST /v3/pay/transactions/jsapi", () => {
  it("answers a signed prepay_id; the same parameters (any key order) → the same prepay_id; others → 403 OUT_TRADE_NO_USED", async () => {
    h = makeV3();
    const r = await h.client.call("POST", PREPAY, prepayBody(h, "PRE0001", { attach: "a,b" }));
    expect(r.status).toBe(200);
    expect(r.raw).toMatch(/^\{"prepay_id":"wx\d{14}[0-9a-f]{20}"\}$/);
    expect(r.headers.get("Wechatpay-Serial")).toBe(PUBLIC_KEY_ID);
    expect(r.headers.get("Request-ID")).toMatch(/^[0-9A-F]{42}-0$/);
    expect(verifySigned(r.headers, r.raw, TRUST())).toBe(true);
    const body = prepayBody(h, "PRE0001", { attach: "a,b" });
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    expect((await h.client.call("POST", PREPAY, reordered)).json).toEqual(r.json);
    const other = await h.client.call("POST", PREPAY, { ...body, amount: { total: 101, currency: "CNY" } });
    expect([other.status, other.json!.code, other.json!.message]).toEqual([403, "OUT_TRADE_NO_USED", "商户订单号重复"]);
    expect(verifySigned(other.headers, other.raw, TRUST())).toBe(true); // business errors are signed
    const view = (await h.control("/__sim/orders/PRE0001")).body;
    expect(view).toMatchObject({ api: "v3", state: "NOTPAY", totalFee: 100, body: "Shop-Tea 茶", attach: "a,b", signType: "RSA", tradeType: "JSAPI", notifyUrl: "https://shop.test/wechat/v3/pay/notify" });
  });

  it("refuses bad fields with 400 PARAM_ERROR naming the field; changes nothing", async () => {
    h = makeV3();
    const cases: [Record<string, unknown>, string][] = [
      [{ description: undefined }, "/description"],
      [{ description: "x".repeat(128) }, "/description"],
      [{ description: "茶🍵" }, "/description"],
      [{ attach: null }, "/attach"],
      [{ out_trade_no: "P1" }, "/out_trade_no"],
      [{ out_trade_no: "P 000001" }, "/out_trade_no"],
      [{ notify_url: "https://shop.test/notify?x=1" }, "/notify_url"],
      [{ notify_url: "shop.test/notify" }, "/notify_url"],
      [{ amount: { total: 1.5 } }, "/amount/total"],
      [{ amount: { total: 0 } }, "/amount/total"],
      [{ amount: { total: "100" } }, "/amount/total"],
      [{ amount: { total: 100, currency: "USD" } }, "/amount/currency"],
      [{ payer: {} }, "/payer/openid"],
      [{ time_expire: "2030-01-01 10:00:00" }, "/time_expire"],
    ];
    for (const [over, field] of cases) {
      const r = await h.client.call("POST", PREPAY, JSON.parse(JSON.stringify(prepayBody(h, "BAD0001", over))));
      expect([r.status, r.json!.code, r.json!.detail?.field], JSON.stringify(over)).toEqual([400, "PARAM_ERROR", field]);
    }
    expect((await h.client.call("POST", PREPAY, "{not json")).json!.code).toBe("PARAM_ERROR");
    const other = await h.client.call("POST", PREPAY, prepayBody(h, "BAD0001", { appid: "wx0000000000000001" }));
    expect([other.status, other.json!.code]).toEqual([400, "APPID_MCHID_NOT_MATCH"]);
    const foreign = await h.client.call("POST", PREPAY, prepayBody(h, "BAD0001", { payer: { openid: h.sim.openidFor("bob", "wx0000000000000001") } }));
    expect([foreign.status, foreign.json!.detail.field]).toEqual([400, "/payer/openid"]);
    expect((await h.control("/__sim/orders")).body.orders).toEqual([]);
  });

  it("moves time_expire into [now + 1 min, now + 90 days] and defaults it to 7 days", async () => {
    const now = Date.UTC(2026, 0, 10, 2, 0, 0);
    h = makeV3({ now: () => now });
    await h.client.call("POST", PREPAY, prepayBody(h, "EXP0001", { time_expire: "2020-01-01T00:00:00+08:00" }));
    await h.client.call("POST", PREPAY, prepayBody(h, "EXP0002"));
    await h.client.call("POST", PREPAY, prepayBody(h, "EXP0003", { time_expire: "2026-01-10T10:30:00.000Z" }));
    const at = async (no: string) => (await h.control(`/__sim/orders/${no}`)).body;
    expect(await at("EXP0001")).toMatchObject({ timeExpire: "2020-01-01T00:00:00+08:00", timeExpireAt: now + 60_000 });
    expect(await at("EXP0002")).toMatchObject({ timeExpire: null, timeExpireAt: now + 7 * 86_400_000 });
    expect(await at("EXP0003")).toMatchObject({ timeExpireAt: Date.UTC(2026, 0, 10, 10, 30, 0) });
    // the effective deadline decides whether the user can still pay
    const { payment } = await placeV3(h, "EXP0004", { time_expire: "2026-01-10T10:00:30+08:00" });
    expect((await h.control("/__sim/pay", { payment })).status).toBe(200); // 30 s away → moved to now + 1 min
  });

  it("paid → 400 ORDERPAID; closed → 400 ORDER_CLOSED", async () => {
    h = makeV3();
    await paidV3(h, "PAID001");
    const again = await h.client.call("POST", PREPAY, prepayBody(h, "PAID001"));
    expect([again.status, again.json!.code]).toEqual([400, "ORDERPAID"]);
    await placeV3(h, "SHUT001");
    expect((await h.client.call("POST", "/v3/pay/transactions/out-trade-no/SHUT001/close", { mchid: MCH })).status).toBe(204);
    const closed = await h.client.call("POST", PREPAY, prepayBody(h, "SHUT001"));
    expect([closed.status, closed.json!.code]).toEqual([400, "ORDER_CLOSED"]);
  });
});

describe("query and close", () => {
  it("queries an unpaid order by out_trade_no, a paid one by either id; unknown → signed 404 ORDER_NOT_EXIST", async () => {
    h = makeV3();
    await placeV3(h, "QRY0001", { attach: "note" });
    const unpaid = await h.client.call("GET", `/v3/pay/transactions/out-trade-no/QRY0001?mchid=${MCH}`);
    expect(unpaid.json).toEqual({ amount: { payer_currency: "CNY", total: 100 }, mchid: MCH, trade_state: "NOTPAY", out_trade_no: "QRY0001", appid: APPID, trade_state_desc: "订单未支付", attach: "note" });
    expect(verifySigned(unpaid.headers, unpaid.raw, TRUST())).toBe(true);
    const { transactionId } = await paidV3(h, "QRY0002");
    const paid = await h.client.call("GET", `/v3/pay/transactions/out-trade-no/QRY0002?mchid=${MCH}`);
    expect(paid.json).toMatchObject({
      transaction_id: transactionId, trade_state: "SUCCESS", trade_state_desc: "支付成功", trade_type: "JSAPI", bank_type: "OTHERS",
      amount: { total: 100, payer_total: 100, currency: "CNY", payer_currency: "CNY" }, payer: { openid: h.sim.openidFor("alice") },
    });
    expect(paid.json!.success_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    expect((await h.client.call("GET", `/v3/pay/transactions/id/${transactionId}?mchid=${MCH}`)).json).toEqual(paid.json);
    const none = await h.client.call("GET", `/v3/pay/transactions/out-trade-no/NOPE001?mchid=${MCH}`);
    expect([none.status, none.json!.code, verifySigned(none.headers, none.raw, TRUST())]).toEqual([404, "ORDER_NOT_EXIST", true]);
    expect((await h.client.call("GET", "/v3/pay/transactions/out-trade-no/QRY0001")).json!.detail).toMatchObject({ field: "mchid", location: "query" });
  });

  it("close: 204 signed over the empty body; again → 204; paid → 400 ORDERPAID; unknown → 404; too young → 500 SYSTEM_ERROR", async () => {
    h = makeV3({ closeMinAgeSeconds: 300 });
    await placeV3(h, "CLS0001");
    const young = await h.client.call("POST", "/v3/pay/transactions/out-trade-no/CLS0001/close", { mchid: MCH });
    expect([young.status, young.json!.code]).toEqual([500, "SYSTEM_ERROR"]);
    await h.control("/__sim/clock", { advanceSeconds: 300 });
    const closed = await h.client.call("POST", "/v3/pay/transactions/out-trade-no/CLS0001/close", { mchid: MCH });
    expect([closed.status, closed.raw]).toEqual([204, ""]);
    expect(verifySigned(closed.headers, "", TRUST())).toBe(true);
    expect((await h.control("/__sim/orders/CLS0001")).body.state).toBe("CLOSED");
    expect((await h.client.call("POST", "/v3/pay/transactions/out-trade-no/CLS0001/close", { mchid: MCH })).status).toBe(204);
    await paidV3(h, "CLS0002");
    await h.control("/__sim/clock", { advanceSeconds: 300 });
    const paid = await h.client.call("POST", "/v3/pay/transactions/out-trade-no/CLS0002/close", { mchid: MCH });
    expect([paid.status, paid.json!.code]).toEqual([400, "ORDERPAID"]);
    expect((await h.client.call("POST", "/v3/pay/transactions/out-trade-no/NOPE001/close", { mchid: MCH })).status).toBe(404);
  });

  it("one order table: a v3 order answers the v2 orderquery too, and the v2 unifiedorder cannot reuse its out_trade_no", async () => {
    h = makeV3();
    await placeV3(h, "MIX0001");
    const { officialSign, parse, toXml } = await import("./peer.ts");
    const f: Record<string, string> = { appid: APPID, mch_id: MCH, nonce_str: "n1", out_trade_no: "MIX0001" };
    f.sign = officialSign(f);
    const q = parse(await (await h.sim.fetch(new Request("http://sim.test/pay/orderquery", { method: "POST", body: toXml(f) }))).text());
    expect(q).toMatchObject({ result_code: "SUCCESS", trade_state: "NOTPAY", total_fee: "100" });
    const u: Record<string, string> = {
      appid: APPID, mch_id: MCH, nonce_str: "n2", body: "x", out_trade_no: "MIX0001", total_fee: "100", spbill_create_ip: "127.0.0.1", notify_url: "https://shop.test/n", trade_type: "JSAPI", openid: h.sim.openidFor("alice"),
    };
    u.sign = officialSign(u);
    const reused = parse(await (await h.sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method: "POST", body: toXml(u) }))).text());
    expect(reused).toMatchObject({ result_code: "FAIL", err_code: "OUT_TRADE_NO_USED" });
  });
});
