// API v3 refunds (rules, idempotency, completion and the REFUND.* callback) and the trade bill
// (tradebill → download_url → the file, its SHA-1, gzip, v2 and v3 trades in one bill).
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { officialSign, parse, toXml } from "./peer.ts";
import { openCallback, verifySigned } from "./v3-client.ts";
import { APPID, MCH, TRUST, makeV3, paidV3 } from "./v3-peer.ts";
import type { V3Harness } from "./v3-peer.ts";

// 2025-03-10 12:00 Beijing
let now = Date.UTC(2025, 2, 10, 4, 0, 0);
let h: V3Harness;
beforeEach(() => {
  now = Date.UTC(2025, 2, 10, 4, 0, 0);
  h = makeV3({ now: () => now });
});
afterEach(() => h.close());

const REFUNDS = "/v3/refund/domestic/refunds";
const refund = (outTradeNo: string, outRefundNo: string, amount: number, total = 1000, extra: Record<string, unknown> = {}) =>
  h.client.call("POST", REFUNDS, { out_trade_no: outTradeNo, out_refund_no: outRefundNo, reason: "商品已售完", notify_url: "https://shop.test/wechat/v3/refund/notify", amount: { refund: amount, total, currency: "CNY" }, ...extra });

describe("POST /v3/refund/domestic/refunds and the refund query", () => {
  it("accepts a refund (signed 200, PROCESSING); the same out_refund_no → the same refund; other amounts → 400", async () => {
    const { transactionId } = await paidV3(h, "RF00001", { amount: { total: 1000, currency: "CNY" } });
    const a = await refund("RF00001", "RF00001-1", 300);
    expect(a.status).toBe(200);
    expect(verifySigned(a.headers, a.raw, TRUST())).toBe(true);
    expect(a.json).toMatchObject({
      out_refund_no: "RF00001-1", out_trade_no: "RF00001", transaction_id: transactionId, channel: "ORIGINAL", status: "PROCESSING", funds_account: "AVAILABLE",
      create_time: "2025-03-10T12:00:00+08:00", amount: { total: 1000, refund: 300, payer_total: 1000, payer_refund: 300, currency: "CNY" },
    });
    expect(a.json!.refund_id).toMatch(/^50\d{27}$/);
    expect(a.json!.success_time).toBeUndefined();
    expect((await refund("RF00001", "RF00001-1", 300)).json!.refund_id).toBe(a.json!.refund_id);
    expect((await refund("RF00001", "RF00001-1", 301)).json).toMatchObject({ code: "INVALID_REQUEST", message: "订单金额或退款金额与之前请求不一致，请核实后再试" });
    expect((await refund("RF00001", "RF00001-2", 100, 999)).json!.code).toBe("INVALID_REQUEST");
    const byTx = await h.client.call("POST", REFUNDS, { transaction_id: transactionId, out_refund_no: "RF00001-3", amount: { refund: 700, total: 1000, currency: "CNY" } });
    expect(byTx.status).toBe(200);
    expect((await refund("RF00001", "RF00001-4", 1)).json).toMatchObject({ code: "INVALID_REQUEST", message: "订单已全额退款" });
    const view = (await h.control("/__sim/orders/RF00001")).body;
    expect(view).toMatchObject({ state: "REFUND", refundedFee: 1000 });
    expect(view.refunds.map((r: { api: string }) => r.api)).toEqual(["v3", "v3"]);
    const q = await h.client.call("GET", `${REFUNDS}/RF00001-1`);
    expect([q.status, q.json!.status, q.json!.refund_id]).toEqual([200, "PROCESSING", a.json!.refund_id]);
  });

  it("refuses unknown or unpaid orders (404 RESOURCE_NOT_EXISTS), bad fields (400 PARAM_ERROR) and amounts over what is left", async () => {
    await paidV3(h, "RF00002", { amount: { total: 500, currency: "CNY" } });
    expect((await refund("NOPE0001", "X-1", 1)).json!.code).toBe("RESOURCE_NOT_EXISTS");
    const cases: [Record<string, unknown>, string][] = [
      [{ out_trade_no: undefined }, "/out_trade_no"],
      [{ out_refund_no: "bad no" }, "/out_refund_no"],
      [{ amount: { refund: 0, total: 500, currency: "CNY" } }, "/amount/refund"],
      [{ amount: { refund: 600, total: 500, currency: "CNY" } }, "/amount/refund"],
      [{ amount: { refund: 1, total: 500 } }, "/amount/currency"],
      [{ notify_url: "https://shop.test/n?x=1" }, "/notify_url"],
      [{ funds_account: "BASIC" }, "/funds_account"],
    ];
    for (const [over, field] of cases) {
      const body = { out_trade_no: "RF00002", out_refund_no: "RF00002-1", amount: { refund: 1, total: 500, currency: "CNY" }, ...over };
      const r = await h.client.call("POST", REFUNDS, JSON.parse(JSON.stringify(body)));
      expect([r.status, r.json!.code, r.json!.detail?.field], JSON.stringify(over)).toEqual([400, "PARAM_ERROR", field]);
    }
    await refund("RF00002", "RF00002-2", 400, 500);
    expect((await refund("RF00002", "RF00002-3", 200, 500)).json).toMatchObject({ code: "INVALID_REQUEST", message: "累计退款金额大于支付金额" });
    const unknown = await h.client.call("GET", `${REFUNDS}/NOPE-1`);
    expect([unknown.status, unknown.json!.code, verifySigned(unknown.headers, unknown.raw, TRUST())]).toEqual([404, "RESOURCE_NOT_EXISTS", true]);
  });

  it("completing a refund sends REFUND.SUCCESS (refund_status, success_time) to its notify_url; CLOSED and ABNORMAL too", async () => {
    await paidV3(h, "RF00003", { amount: { total: 1000, currency: "CNY" } });
    const r = (await refund("RF00003", "RF00003-1", 250)).json!;
    now += 60_000;
    const done = await h.control("/__sim/refunds/complete", { outRefundNo: "RF00003-1" });
    expect(done.body).toMatchObject({ status: "SUCCESS", deliveryIds: [expect.any(String)] });
    const [d] = (await h.control("/__sim/deliveries/take", {})).body.deliveries;
    expect(d).toMatchObject({ kind: "refund", url: "https://shop.test/wechat/v3/refund/notify", event: "REFUND.SUCCESS", contentType: "application/json" });
    expect(verifySigned(d.headers, d.body, TRUST())).toBe(true);
    expect(JSON.parse(d.body)).toMatchObject({ event_type: "REFUND.SUCCESS", summary: "退款成功", resource: { original_type: "refund", associated_data: "refund" } });
    expect(openCallback(d.body)).toEqual({
      mchid: MCH, transaction_id: r.transaction_id, out_trade_no: "RF00003", refund_id: r.refund_id, out_refund_no: "RF00003-1", refund_status: "SUCCESS",
      success_time: "2025-03-10T12:01:00+08:00", user_received_account: "支付用户零钱", amount: { total: 1000, refund: 250, payer_total: 1000, payer_refund: 250 },
    });
    expect((await h.client.call("GET", `${REFUNDS}/RF00003-1`)).json).toMatchObject({ status: "SUCCESS", success_time: "2025-03-10T12:01:00+08:00" });
    await refund("RF00003", "RF00003-2", 100);
    await refund("RF00003", "RF00003-3", 100);
    await h.control("/__sim/refunds/complete", { outRefundNo: "RF00003-2", status: "CLOSED" });
    await h.control("/__sim/refunds/complete", { outRefundNo: "RF00003-3", status: "ABNORMAL" });
    const later = (await h.control("/__sim/deliveries/take", {})).body.deliveries as { event: string; body: string }[];
    expect(later.map((x) => [x.event, openCallback(x.body).refund_status])).toEqual([["REFUND.CLOSED", "CLOSED"], ["REFUND.ABNORMAL", "ABNORMAL"]]);
    expect((await h.client.call("GET", `${REFUNDS}/RF00003-2`)).json!.status).toBe("CLOSED");
    // a PROCESSING refund has nothing to re-send; a finished one can be sent again (or spoiled)
    await refund("RF00003", "RF00003-4", 10);
    expect((await h.control("/__sim/v3/notify", { outRefundNo: "RF00003-4" })).body.code).toBe("REFUND_PROCESSING");
    expect((await h.control("/__sim/v3/notify", { outRefundNo: "RF00003-1", spoil: "gcm_tag" })).status).toBe(200);
  });

  it("autoCompleteRefundsAfterMs completes v3 refunds too", async () => {
    h.close();
    h = makeV3({ now: () => now, autoCompleteRefundsAfterMs: 0 });
    await paidV3(h, "RF00004");
    await refund("RF00004", "RF00004-1", 100, 100);
    await new Promise((r) => setTimeout(r, 20));
    expect((await h.client.call("GET", `${REFUNDS}/RF00004-1`)).json!.status).toBe("SUCCESS");
  });
});

describe("GET /v3/bill/tradebill and the download", () => {
  const bill = (q: string) => h.client.call("GET", `/v3/bill/tradebill${q ? `?${q}` : ""}`);
  const download = async (url: string) => {
    const u = new URL(url);
    return h.client.call("GET", u.pathname + u.search);
  };

  it("answers the SHA-1 and a download_url; the file (unsigned) is the backtick bill with v2 and v3 trades, gzip on request", async () => {
    await paidV3(h, "BILL0001", { amount: { total: 1234, currency: "CNY" }, description: "v3 茶" });
    await refund("BILL0001", "BILL0001-1", 234, 1234);
    // a v2 order in the same table and bill
    const f: Record<string, string> = {
      appid: APPID, mch_id: MCH, nonce_str: "n", body: "v2 tea", out_trade_no: "BILL0002", total_fee: "500", spbill_create_ip: "127.0.0.1",
      notify_url: "https://shop.test/wechat/pay/notify", trade_type: "JSAPI", openid: h.sim.openidFor("bob"),
    };
    f.sign = officialSign(f);
    const prepay = parse(await (await h.sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method: "POST", body: toXml(f) }))).text()).prepay_id;
    const p = { timeStamp: "1741579200", nonceStr: "x", package: `prepay_id=${prepay}`, signType: "MD5" };
    expect((await h.control("/__sim/pay", { payment: { ...p, paySign: officialSign({ appId: APPID, ...p }) }, notify: "none" })).status).toBe(200);

    const r = await bill("bill_date=2025-03-10&bill_type=ALL");
    expect(r.status).toBe(200);
    expect(verifySigned(r.headers, r.raw, TRUST())).toBe(true);
    expect(r.json).toMatchObject({ hash_type: "SHA1", hash_value: expect.stringMatching(/^[0-9a-f]{40}$/), download_url: expect.stringMatching(/^https:\/\/api\.mch\.weixin\.qq\.com\/v3\/billdownload\/file\?token=[\w-]+$/) });
    const file = await download(r.json!.download_url);
    expect(file.status).toBe(200);
    expect(file.headers.get("Wechatpay-Signature")).toBeNull();
    expect(createHash("sha1").update(file.bytes).digest("hex")).toBe(r.json!.hash_value); // over the bytes, BOM included
    expect(file.raw.startsWith("\uFEFF交易时间,公众账号ID,商户号")).toBe(true);
    expect(file.raw).toContain(",`BILL0001,");
    expect(file.raw).toContain(",`BILL0002,");
    expect(file.raw).toContain(",`12.34,");
    expect(file.raw).toContain(",`BILL0001-1,");
    expect(file.raw).toContain(",`v3 茶,");

    const gz = await bill("bill_date=2025-03-10&tar_type=GZIP");
    const zipped = await download(gz.json!.download_url);
    expect(zipped.headers.get("Content-Type")).toBe("application/x-gzip");
    const plain = gunzipSync(zipped.bytes);
    expect(createHash("sha1").update(plain).digest("hex")).toBe(gz.json!.hash_value);
    expect(gz.json!.hash_value).toBe(r.json!.hash_value);
  });

  it("refuses bad dates and types, says NO_STATEMENT_EXIST for an empty day, and the link expires after 5 minutes", async () => {
    for (const q of ["", "bill_date=20250310", "bill_date=2025-02-30", "bill_date=2025-03-10&bill_type=EVERYTHING", "bill_date=2025-03-10&tar_type=ZIP"]) {
      expect((await bill(q)).json!.code, q).toBe("PARAM_ERROR");
    }
    expect((await bill("bill_date=2024-11-01")).json!.code).toBe("INVALID_REQUEST");
    const empty = await bill("bill_date=2025-03-09");
    expect([empty.status, empty.json!.code]).toEqual([400, "NO_STATEMENT_EXIST"]);
    await h.control("/__sim/faults", { path: "/v3/bill/tradebill", fault: "bill_creating" });
    expect((await bill("bill_date=2025-03-09")).json!.code).toBe("STATEMENT_CREATING");
    await paidV3(h, "BILL0003");
    const r = await bill("bill_date=2025-03-10");
    expect((await bill("bill_date=2025-03-10&bill_type=RECHARGE_REFUND")).json!.code).toBe("NO_STATEMENT_EXIST");
    now += 301_000;
    const late = await download(r.json!.download_url);
    expect([late.status, late.json!.code]).toEqual([400, "INVALID_REQUEST"]);
  });
});
