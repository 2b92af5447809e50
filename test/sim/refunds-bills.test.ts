// Refunds (rules, completion, notification), refundquery paging, downloadbill.
import { createDecipheriv, createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import type { Simulator } from "../../sim/core.ts";
import { APPID, MCH, KEY, officialSign, parse, toXml, type T } from "./peer.ts";

// 2025-03-10 23:50:00 Beijing = 15:50 UTC: lets the test cross a Beijing midnight
let now = Date.UTC(2025, 2, 10, 15, 50, 0);
let sim: Simulator;
beforeEach(() => {
  now = Date.UTC(2025, 2, 10, 15, 50, 0);
  sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: "s", delivery: "outbox", now: () => now, bill: { bom: true, eol: "\r\n" } });
});
afterEach(() => sim.close());

let n = 0;
async function raw(path: string, fields: Record<string, string>, type: T = "MD5") {
  const f: Record<string, string> = { appid: APPID, mch_id: MCH, nonce_str: `n${++n}`, ...fields };
  if (type !== "MD5") f.sign_type = type;
  f.sign = officialSign(f, type);
  return sim.fetch(new Request("https://api.mch.weixin.qq.com" + path, { method: "POST", body: toXml(f) }));
}
async function call(path: string, fields: Record<string, string>, type: T = "MD5") {
  const reply = parse(await (await raw(path, fields, type)).text());
  if (reply.sign !== undefined) expect(reply.sign).toBe(officialSign(reply, type));
  return reply;
}
const control = async (path: string, body?: unknown) => {
  const res = await sim.fetch(new Request("http://sim.test" + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }));
  return { status: res.status, body: await res.json() };
};
async function paidOrder(outTradeNo: string, totalFee: string, user = "alice", body = "Shop-Tea") {
  const r = await call("/pay/unifiedorder", {
    body, out_trade_no: outTradeNo, total_fee: totalFee, spbill_create_ip: "127.0.0.1", notify_url: "https://shop.test/wechat/pay/notify", trade_type: "JSAPI", openid: sim.openidFor(user),
  });
  const p = { timeStamp: "1741621800", nonceStr: "x", package: `prepay_id=${r.prepay_id}`, signType: "MD5" };
  const paid = await control("/__sim/pay", { payment: { ...p, paySign: officialSign({ appId: APPID, ...p }, "MD5") }, notify: "none" });
  expect(paid.status).toBe(200);
  return paid.body.transactionId as string;
}
const refundReq = (outTradeNo: string, outRefundNo: string, total: string, fee: string, extra: Record<string, string> = {}) =>
  call("/secapi/pay/refund", { out_trade_no: outTradeNo, out_refund_no: outRefundNo, total_fee: total, refund_fee: fee, notify_url: "https://shop.test/wechat/refund/notify", ...extra });

describe("POST /secapi/pay/refund", () => {
  it("accepts a refund (PROCESSING), idempotent on out_refund_no, REFUND_FEE_MISMATCH on a changed amount or wrong total", async () => {
    const tx = await paidOrder("R1", "1000");
    const a = await refundReq("R1", "RF-1", "1000", "300");
    expect(a).toMatchObject({ return_code: "SUCCESS", result_code: "SUCCESS", out_trade_no: "R1", out_refund_no: "RF-1", refund_fee: "300", total_fee: "1000", cash_fee: "1000", transaction_id: tx });
    expect(a.refund_id).toMatch(/^50\d{27}$/);
    const again = await refundReq("R1", "RF-1", "1000", "300");
    expect(again.refund_id).toBe(a.refund_id);
    expect(await refundReq("R1", "RF-1", "1000", "301")).toMatchObject({ result_code: "FAIL", err_code: "REFUND_FEE_MISMATCH", err_code_des: "订单金额或退款金额与之前请求不一致，请核实后再试" });
    expect(await refundReq("R1", "RF-2", "999", "100")).toMatchObject({ result_code: "FAIL", err_code: "REFUND_FEE_MISMATCH" });
    // by transaction_id (wins over out_trade_no)
    expect((await call("/secapi/pay/refund", { transaction_id: tx, out_trade_no: "whatever", out_refund_no: "RF-3", total_fee: "1000", refund_fee: "100" })).result_code).toBe("SUCCESS");
    const view = (await control("/__sim/orders/R1")).body;
    expect(view.state).toBe("REFUND");
    expect(view.refundedFee).toBe(400);
    expect(view.refunds.map((r: { outRefundNo: string; status: string; notifyUrl: string | null }) => [r.outRefundNo, r.status, r.notifyUrl])).toEqual([
      ["RF-1", "PROCESSING", "https://shop.test/wechat/refund/notify"],
      ["RF-3", "PROCESSING", null],
    ]);
  });

  it("cumulative refunds may not exceed the total: ERROR 累计退款金额大于支付金额 / 订单已全额退款; REFUNDCLOSE frees the amount", async () => {
    await paidOrder("R2", "100");
    expect((await refundReq("R2", "A", "100", "60")).result_code).toBe("SUCCESS");
    expect(await refundReq("R2", "B", "100", "41")).toMatchObject({ result_code: "FAIL", err_code: "ERROR", err_code_des: "累计退款金额大于支付金额" });
    expect((await refundReq("R2", "B", "100", "40")).result_code).toBe("SUCCESS");
    expect(await refundReq("R2", "C", "100", "1")).toMatchObject({ result_code: "FAIL", err_code: "ERROR", err_code_des: "订单已全额退款" });
    await control("/__sim/refunds/complete", { outRefundNo: "B", status: "REFUNDCLOSE", notify: "none" });
    expect((await refundReq("R2", "C", "100", "40")).result_code).toBe("SUCCESS");
    expect(await refundReq("R2", "D", "100", "0")).toMatchObject({ result_code: "FAIL", err_code: "PARAM_ERROR" });
  });

  it("at most 50 refunds per order; unpaid or unknown orders → ORDERNOTEXIST", async () => {
    await paidOrder("R3", "10000");
    for (let i = 0; i < 50; i++) expect((await refundReq("R3", `M${i}`, "10000", "1")).result_code).toBe("SUCCESS");
    expect(await refundReq("R3", "M50", "10000", "1")).toMatchObject({ result_code: "FAIL", err_code: "ERROR" });
    expect((await refundReq("R3", "M7", "10000", "1")).result_code).toBe("SUCCESS"); // a retry of an existing one is fine
    await call("/pay/unifiedorder", { body: "x", out_trade_no: "UNPAID", total_fee: "5", spbill_create_ip: "1.1.1.1", notify_url: "https://shop.test/n", trade_type: "JSAPI", openid: sim.openidFor("bob") });
    expect(await refundReq("UNPAID", "U1", "5", "5")).toMatchObject({ result_code: "FAIL", err_code: "ORDERNOTEXIST" });
    expect(await refundReq("NOPE", "U2", "5", "5")).toMatchObject({ result_code: "FAIL", err_code: "ORDERNOTEXIST" });
    expect(await refundReq("R3", "U3", "10000", "1.5")).toEqual({ return_code: "FAIL", return_msg: "无法将输入源“/body/xml/refund_fee”映射到目标字段“申请退款金额”中，此字段需要一个合法的 64 位有符号整数" });
  });

  it("/__sim/refunds/complete: SUCCESS / REFUNDCLOSE / CHANGE with encrypted notifications; final refunds refuse completion", async () => {
    await paidOrder("R4", "500");
    await refundReq("R4", "S1", "500", "100");
    await refundReq("R4", "S2", "500", "100");
    await refundReq("R4", "S3", "500", "100");
    const ok = await control("/__sim/refunds/complete", { outRefundNo: "S1" });
    expect(ok.body).toMatchObject({ outRefundNo: "S1", status: "SUCCESS" });
    expect(ok.body.deliveryIds).toHaveLength(1);
    await control("/__sim/refunds/complete", { outRefundNo: "S2", status: "REFUNDCLOSE" });
    await control("/__sim/refunds/complete", { outRefundNo: "S3", status: "CHANGE", notify: "none" });
    expect(await control("/__sim/refunds/complete", { outRefundNo: "S1" })).toMatchObject({ status: 409, body: { code: "REFUND_FINAL" } });
    expect(await control("/__sim/refunds/complete", { outRefundNo: "nope" })).toMatchObject({ status: 404 });
    const ds = (await control("/__sim/deliveries/take", {})).body.deliveries;
    expect(ds).toHaveLength(2);
    const key = Buffer.from(createHash("md5").update(KEY).digest("hex"));
    const dec = (b64: string) => {
      const d = createDecipheriv("aes-256-ecb", key, null);
      return parse(Buffer.concat([d.update(Buffer.from(b64, "base64")), d.final()]).toString("utf8"));
    };
    const [s1, s2] = ds.map((d: { body: string }) => dec(parse(d.body).req_info!));
    expect(s1).toMatchObject({ out_refund_no: "S1", refund_status: "SUCCESS", refund_fee: "100", settlement_refund_fee: "100", total_fee: "500" });
    expect(s1.success_time).toBe("2025-03-10 23:50:00");
    expect(s2).toMatchObject({ out_refund_no: "S2", refund_status: "REFUNDCLOSE" });
    expect(s2.success_time).toBeUndefined();
    // refundquery sees the final states
    const q = await call("/pay/refundquery", { out_trade_no: "R4" });
    expect([q.refund_status_0, q.refund_status_1, q.refund_status_2]).toEqual(["SUCCESS", "REFUNDCLOSE", "CHANGE"]);
    expect(q.refund_success_time_0).toBe("2025-03-10 23:50:00");
    // CHANGE is not final: it can still be completed
    expect((await control("/__sim/refunds/complete", { outRefundNo: "S3", status: "SUCCESS", notify: "none" })).body.status).toBe("SUCCESS");
  });

  it("autoCompleteRefundsAfterMs completes refunds with SUCCESS by itself", async () => {
    sim.close();
    sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: "s", delivery: "outbox", autoCompleteRefundsAfterMs: 5 });
    await paidOrder("AUTO", "10");
    await refundReq("AUTO", "AR1", "10", "10");
    await new Promise((r) => setTimeout(r, 40));
    expect((await control("/__sim/refunds/AR1")).body.status).toBe("SUCCESS");
    expect((await control("/__sim/deliveries")).body.deliveries.map((d: { kind: string; outRefundNo: string }) => [d.kind, d.outRefundNo])).toEqual([["refund", "AR1"]]);
  });
});

describe("POST /pay/refundquery", () => {
  it("indexed _$n fields, 10 per page, offset, total_refund_count; by out_refund_no / refund_id; unknown → REFUNDNOTEXIST", async () => {
    const tx = await paidOrder("Q1", "100");
    const ids: string[] = [];
    for (let i = 0; i < 23; i++) ids.push((await refundReq("Q1", `QR${String(i).padStart(2, "0")}`, "100", "2")).refund_id!);
    const p0 = await call("/pay/refundquery", { out_trade_no: "Q1" }, "HMAC-SHA256");
    expect(p0).toMatchObject({ result_code: "SUCCESS", total_refund_count: "23", refund_count: "10", transaction_id: tx, out_trade_no: "Q1", total_fee: "100", cash_fee: "100" });
    expect(p0.out_refund_no_0).toBe("QR00");
    expect(p0.out_refund_no_9).toBe("QR09");
    expect(p0.out_refund_no_10).toBeUndefined();
    expect(p0).toMatchObject({ refund_id_0: ids[0], refund_fee_0: "2", refund_status_0: "PROCESSING", refund_channel_0: "ORIGINAL", refund_recv_accout_0: "支付用户零钱" });
    const p2 = await call("/pay/refundquery", { transaction_id: tx, offset: "20" });
    expect(p2).toMatchObject({ refund_count: "3", out_refund_no_0: "QR20", out_refund_no_2: "QR22", total_refund_count: "23" });
    expect(await call("/pay/refundquery", { out_trade_no: "Q1", offset: "23" })).toMatchObject({ result_code: "FAIL", err_code: "PARAM_ERROR" });
    const one = await call("/pay/refundquery", { out_refund_no: "QR05" });
    expect(one).toMatchObject({ refund_count: "1", out_refund_no_0: "QR05", refund_id_0: ids[5] });
    expect(one.total_refund_count).toBeUndefined();
    expect((await call("/pay/refundquery", { refund_id: ids[7]! })).out_refund_no_0).toBe("QR07");
    expect(await call("/pay/refundquery", { out_refund_no: "nope" })).toMatchObject({ result_code: "FAIL", err_code: "REFUNDNOTEXIST" });
    await paidOrder("Q2", "5");
    expect(await call("/pay/refundquery", { out_trade_no: "Q2" })).toMatchObject({ result_code: "FAIL", err_code: "REFUNDNOTEXIST" });
  });
});

describe("POST /pay/downloadbill", () => {
  /** Parse a bill back: strip BOM, split lines, drop each field's backtick; amounts stay strings. */
  async function parseBill(res: Response) {
    // bytes, not res.text(): the Fetch text() decoder would silently strip the BOM
    const text = Buffer.from(await res.arrayBuffer()).toString("utf8");
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const lines = text.slice(1).split(/\r\n/).filter((l) => l !== "");
    const header = lines[0]!.split(",");
    const sumIdx = lines.findIndex((l) => l.startsWith("总交易单数"));
    const rows = lines.slice(1, sumIdx).map((l) => {
      const cells = l.split(",");
      for (const c of cells) expect(c.startsWith("`")).toBe(true);
      return Object.fromEntries(cells.map((c, i) => [header[i]!, c.slice(1)]));
    });
    const sumHeader = lines[sumIdx]!.split(",");
    const summary = Object.fromEntries(lines[sumIdx + 1]!.split(",").map((c, i) => [sumHeader[i]!, c.slice(1)]));
    expect(lines).toHaveLength(sumIdx + 2);
    return { header, rows, summary };
  }
  const yuanToFen = (s: string) => {
    const m = /^(-?)(\d+)\.(\d{2})(0*)$/.exec(s)!;
    return (m[1] ? -1 : 1) * (Number(m[2]) * 100 + Number(m[3]));
  };

  it("renders a Beijing day's trades and refunds in yuan (ALL / SUCCESS / REFUND), gzip on request", async () => {
    const tx1 = await paidOrder("B1", "1990", "alice", "Green tea 绿茶"); // 2025-03-10 23:50 Beijing
    await paidOrder("B2", "1", "bob");
    now += 15 * 60e3; // 2025-03-11 00:05 Beijing (16:05 UTC on the 10th!)
    const tx3 = await paidOrder("B3", "12345", "carol");
    await refundReq("B1", "BR1", "1990", "990");
    await control("/__sim/refunds/complete", { outRefundNo: "BR1", notify: "none" });
    await refundReq("B3", "BR2", "12345", "45");
    // unpaid and failed orders never appear
    await call("/pay/unifiedorder", { body: "x", out_trade_no: "B4", total_fee: "5", spbill_create_ip: "1.1.1.1", notify_url: "https://shop.test/n", trade_type: "JSAPI", openid: sim.openidFor("dan") });

    const day1 = await parseBill(await raw("/pay/downloadbill", { bill_date: "20250310", bill_type: "ALL" }));
    expect(day1.header).toHaveLength(27);
    expect(day1.rows.map((r) => [r["商户订单号"], r["交易状态"], r["订单金额"]])).toEqual([["B1", "SUCCESS", "19.90"], ["B2", "SUCCESS", "0.01"]]);
    expect(day1.rows[0]).toMatchObject({ 交易时间: "2025-03-10 23:50:00", 公众账号ID: APPID, 商户号: MCH, 微信订单号: tx1, 用户标识: sim.openidFor("alice"), 交易类型: "JSAPI", 货币种类: "CNY", 应结订单金额: "19.90", 商品名称: "Green tea 绿茶" });
    expect(day1.summary).toEqual({ 总交易单数: "2", 应结订单总金额: "19.91", 退款总金额: "0.00", 充值券退款总金额: "0.00", 手续费总金额: "0.12000", 订单总金额: "19.91", 申请退款总金额: "0.00" });

    const res2 = await raw("/pay/downloadbill", { bill_date: "20250311" });
    expect(res2.headers.get("content-type")).toMatch(/^text\/plain/);
    const day2 = await parseBill(res2); // bill_type absent = ALL
    expect(day2.rows.map((r) => [r["商户订单号"], r["交易状态"], r["商户退款单号"], r["退款金额"], r["退款状态"]])).toEqual([
      ["B3", "SUCCESS", "0", "0.00", ""],
      ["B1", "REFUND", "BR1", "9.90", "SUCCESS"],
      ["B3", "REFUND", "BR2", "0.45", "PROCESSING"],
    ]);
    // totals in yuan, checked with integer fen
    const settle = day2.rows.reduce((s, r) => s + yuanToFen(r["应结订单金额"]!), 0);
    const refunded = day2.rows.reduce((s, r) => s + yuanToFen(r["退款金额"]!), 0);
    expect([settle, refunded]).toEqual([12345, 1035]);
    expect(day2.summary).toMatchObject({ 总交易单数: "3", 应结订单总金额: "123.45", 退款总金额: "10.35", 订单总金额: "123.45", 申请退款总金额: "10.35" });
    expect(day2.summary["手续费总金额"]).toBe("0.68000"); // 74 - 6 - 0 fen

    const succ = await parseBill(await raw("/pay/downloadbill", { bill_date: "20250311", bill_type: "SUCCESS" }));
    expect(succ.header).toEqual(["交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "费率备注"]);
    expect(succ.rows.map((r) => r["微信订单号"])).toEqual([tx3]);
    const ref = await parseBill(await raw("/pay/downloadbill", { bill_date: "20250311", bill_type: "REFUND" }, "HMAC-SHA256"));
    expect(ref.header).toContain("退款申请时间");
    expect(ref.rows.map((r) => [r["商户退款单号"], r["退款申请时间"], r["退款成功时间"], r["申请退款金额"]])).toEqual([
      ["BR1", "2025-03-11 00:05:00", "2025-03-11 00:05:00", "9.90"],
      ["BR2", "2025-03-11 00:05:00", "", "0.45"],
    ]);
    expect(ref.summary).toMatchObject({ 总交易单数: "2", 应结订单总金额: "0.00", 退款总金额: "10.35", 手续费总金额: "-0.06000" });

    const gz = await raw("/pay/downloadbill", { bill_date: "20250311", bill_type: "ALL", tar_type: "GZIP" });
    expect(gz.headers.get("content-type")).toBe("application/x-gzip");
    const plainBytes = Buffer.from(await (await raw("/pay/downloadbill", { bill_date: "20250311", bill_type: "ALL" })).arrayBuffer());
    expect(gunzipSync(Buffer.from(await gz.arrayBuffer())).equals(plainBytes)).toBe(true);
  });

  it("No Bill Exist (error_code 20002) for an empty day, and its request errors", async () => {
    await paidOrder("NB1", "1");
    expect(parse(await (await raw("/pay/downloadbill", { bill_date: "20250309", bill_type: "ALL" })).text())).toEqual({ return_code: "FAIL", return_msg: "No Bill Exist", error_code: "20002" });
    expect(parse(await (await raw("/pay/downloadbill", { bill_date: "20250310", bill_type: "REFUND" })).text())).toMatchObject({ return_msg: "No Bill Exist", error_code: "20002" });
    expect(parse(await (await raw("/pay/downloadbill", { bill_date: "20250230", bill_type: "ALL" })).text())).toEqual({ return_code: "FAIL", return_msg: "invalid bill_date" });
    expect(parse(await (await raw("/pay/downloadbill", { bill_date: "20250310", bill_type: "BOGUS" })).text())).toEqual({ return_code: "FAIL", return_msg: "invalid bill_type" });
    expect(parse(await (await raw("/pay/downloadbill", { bill_date: "20250310", tar_type: "ZIP" })).text())).toEqual({ return_code: "FAIL", return_msg: "invalid tar_type: Only GZIP supported" });
    const bad = await sim.fetch(new Request("http://sim.test/pay/downloadbill", { method: "POST", body: toXml({ appid: APPID, mch_id: MCH, nonce_str: "x", bill_date: "20250310", sign: "0".repeat(32) }) }));
    expect(parse(await bad.text())).toEqual({ return_code: "FAIL", return_msg: "SIGN ERROR" });
  });
});
