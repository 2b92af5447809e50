// GET /admin/reconciliation/:yyyymmdd: the simulator's downloadbill (ALL) for a Beijing date diffed
// against D1. The simulator is shared by every test file and its bill holds every file's payments of
// the day, while D1 is per file; so the exact-diff tests pass the real bill through a fetch spy that
// keeps only this file's rows (and recomputes the summary row), and one test reads the unfiltered bill
// and checks that nothing of ours is reported and everything reported is another file's.
//
// Dates: the simulator dates this file's payments by its own clock (today, Beijing), and the Worker
// refuses today (a day's bill exists from 10:00 Beijing the next day). So the tests on that bill ask
// the service as of the next day at noon (deps with a fixed clock); everything else goes through
// HTTP with real time and past dates. The Beijing-midnight test pays with signed notifications whose
// time_end is 23:59:59 / 00:00:00 of a past day, and serves those two trades as WeChat would date
// them in that day's bill.
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config";
import { ApiError } from "../../src/errors";
import { reconcileBill } from "../../src/orders/bill-reconcile";
import { buildDeps, MAX_BILL_BYTES } from "../../src/orders/deps";
import { admin, api, login, payInWechat, payNotifyFields, postNotify, putProduct, rows, signedNotifyXml, toXml } from "./harness";
import {
  beijingToday, completeAtWechat, deliverOwn, fenToYuan, newOrder, onlyRows, orderRow, paidOrder, reportWithoutDifferences, requestRefund, spyWechat, xmlField,
} from "./refund-harness";

const DAY_MS = 86_400_000;
/** A Beijing wall-clock time on a yyyymmdd date, as epoch ms. */
const beijingAt = (date: string, time: string) => Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}T${time}+08:00`);
const beijingDateOf = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10).replace(/-/g, "");

let token: string;
/** Every out_trade_no this file created: the rows of the bill that belong to this file's D1. */
const mine = new Set<string>();
const paid: { outTradeNo: string; transactionId: string; totalFee: number }[] = [];
let refunded: { outTradeNo: string; outRefundNo: string };
/** The Beijing date the simulator gave this file's payments (time_end): today. */
let day: string;

beforeAll(async () => {
  await putProduct("bill-a", "Bill item A", 100);
  await putProduct("bill-b", "Bill item B", 2345);
  token = await login("bills");
  for (const [sku, quantity] of [["bill-a", 1], ["bill-b", 1], ["bill-a", 3]] as const) {
    const order = await paidOrder(token, sku, quantity);
    mine.add(order.outTradeNo);
    paid.push(order);
  }
  // A partial refund of the first order, finished by its notification.
  const refund = (await requestRefund(paid[0]!.outTradeNo, 40)).body.refund;
  await deliverOwn(await completeAtWechat(refund.outRefundNo, "SUCCESS"));
  refunded = { outTradeNo: paid[0]!.outTradeNo, outRefundNo: refund.outRefundNo };
  day = beijingDateOf((await orderRow(paid[0]!.outTradeNo)).paid_at);
});
afterEach(() => vi.restoreAllMocks());

/** Lets downloadbill through to the simulator, keeping only this file's rows. */
function billOfThisFile() {
  return spyWechat(async (request, path, forward) => {
    if (path !== "/pay/downloadbill") return undefined;
    const text = await (await forward(request)).text();
    if (text.replace(/^\uFEFF/, "").startsWith("<xml")) return new Response(text);
    return new Response(onlyRows(text, mine), { headers: { "content-type": "text/plain;charset=utf-8" } });
  });
}

const report = (date: string) => admin("GET", `/reconciliation/${date}`);

/** The service's report for `date` as of `now` (epoch ms), as the route would answer it (JSON). */
async function reportAsOf(date: string, now: number) {
  const config = loadConfig(env);
  if (!config.ok) throw new Error("test config is invalid");
  return JSON.parse(JSON.stringify(await reconcileBill(buildDeps(env, config.config, () => new Date(now)), date)));
}

/** `date`'s report as of noon Beijing time the next day, when its bill exists. */
const reportNextDay = (date: string) => reportAsOf(date, beijingAt(date, "12:00:00") + DAY_MS);

/** The ApiError `promise` rejects with. */
async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe("a day's bill", () => {
  it("reconciles to an empty diff, with the counts and totals of both sides", async () => {
    const { paths } = billOfThisFile();
    const body = await reportNextDay(day);
    expect(paths).toEqual(["/pay/downloadbill"]);
    expect(body).toEqual(reportWithoutDifferences(day, { paymentCount: 3, paymentFee: 100 + 2345 + 300, refundCount: 1, refundFee: 40 }));
  });

  it("a tampered local amount shows up as a mismatch naming both values in fen", async () => {
    const victim = paid[1]!;
    await env.DB.prepare("UPDATE orders SET total_fee = 2000 WHERE out_trade_no = ?").bind(victim.outTradeNo).run();
    try {
      billOfThisFile();
      const body = await reportNextDay(day);
      expect(body.mismatched).toEqual([
        { kind: "payment", outTradeNo: victim.outTradeNo, transactionId: victim.transactionId, outRefundNo: null, field: "totalFee", wechat: 2345, local: 2000 },
      ]);
      expect(body.summary.differences).toBe(1);
      expect(body.summary.local.paymentFee).toBe(100 + 2000 + 300);
      expect(body.missingLocally).toEqual([]);
      expect(body.missingAtWechat).toEqual([]);
    } finally {
      await env.DB.prepare("UPDATE orders SET total_fee = 2345 WHERE out_trade_no = ?").bind(victim.outTradeNo).run();
    }
  });

  it("missing on either side, and a refund status that differs", async () => {
    // Paid at WeChat, notification lost, never confirmed: D1 still says NOTPAY.
    const { order, payment } = await newOrder(token, "bill-a");
    const unseen = await payInWechat(payment, { notify: "none" });
    mine.add(order.outTradeNo);
    // PAID in D1 but unknown to WeChat.
    const user = (await rows<{ id: string; openid: string }>("SELECT u.id, u.openid FROM users u JOIN orders o ON o.user_id = u.id LIMIT 1"))[0]!;
    const ghost = `GHOST${Date.now()}`;
    await env.DB.prepare(
      `INSERT INTO orders (out_trade_no, user_id, openid, status, total_fee, description, sign_type, client_ip, notify_url,
         time_start, time_expire, created_at, expires_at, paid_at, transaction_id, updated_at)
       VALUES (?1, ?2, ?3, 'PAID', 777, 'ghost', 'MD5', '127.0.0.1', 'x', '20260101000000', '20260101003000', ?4, ?4, ?4, ?5, ?4)`,
    ).bind(ghost, user.id, user.openid, Date.now(), `4200GHOST${Date.now()}`).run();
    // A refund WeChat finished whose notification we have not had yet.
    const pending = (await requestRefund(paid[2]!.outTradeNo, 50)).body.refund;
    await completeAtWechat(pending.outRefundNo, "SUCCESS", "none");

    billOfThisFile();
    const body = await reportNextDay(day);
    expect(body.missingLocally).toEqual([
      { kind: "payment", outTradeNo: order.outTradeNo, transactionId: unseen.transactionId, outRefundNo: null, wechatFee: 100, wechatStatus: "SUCCESS", localStatus: "NOTPAY" },
    ]);
    expect(body.missingAtWechat).toEqual([
      { kind: "payment", outTradeNo: ghost, transactionId: expect.stringMatching(/^4200GHOST/), outRefundNo: null, localFee: 777, localStatus: "PAID" },
    ]);
    expect(body.mismatched).toEqual([
      { kind: "refund", outTradeNo: paid[2]!.outTradeNo, transactionId: paid[2]!.transactionId, outRefundNo: pending.outRefundNo, field: "status", wechat: "SUCCESS", local: "PROCESSING" },
    ]);
    expect(body.summary.differences).toBe(3);
    await env.DB.prepare("DELETE FROM orders WHERE out_trade_no = ?").bind(ghost).run();
  });

  it("the unfiltered bill of the shared simulator: nothing of ours is reported, everything reported is unknown here", async () => {
    const body = await reportNextDay(day);
    const ours = (item: { outTradeNo: string }) => mine.has(item.outTradeNo);
    expect(body.missingAtWechat).toEqual([]);
    expect(body.mismatched.filter(ours).map((m: any) => m.field)).toEqual(["status"]); // the pending refund above
    expect(body.missingLocally.filter(ours).map((m: any) => m.localStatus)).toEqual(["NOTPAY"]); // the unseen payment above
    for (const item of body.missingLocally.filter((i: any) => !ours(i))) expect(item.localStatus).toBeNull();
    expect(body.summary.wechat.paymentCount).toBeGreaterThanOrEqual(4);
  });
});

describe("no bill, WeChat errors, validation", () => {
  it("No Bill Exist → an empty report, not an error", async () => {
    const date = beijingToday(-45);
    const reply = await report(date);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      date,
      summary: {
        billExists: false,
        wechat: { paymentCount: 0, paymentFee: 0, refundCount: 0, refundFee: 0, otherAppRows: 0 },
        local: { paymentCount: 0, paymentFee: 0, refundCount: 0, refundFee: 0 },
        differences: 0,
      },
      missingLocally: [],
      missingAtWechat: [],
      mismatched: [],
      unreadable: [],
    });
  });

  it("No Bill Exist while D1 has a payment that day → the payment is missing at WeChat", async () => {
    const date = beijingToday(-50);
    const day = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}T12:00:00+08:00`);
    const order = paid[0]!;
    const before = (await rows<{ paid_at: number }>("SELECT paid_at FROM orders WHERE out_trade_no = ?", order.outTradeNo))[0]!.paid_at;
    await env.DB.prepare("UPDATE orders SET paid_at = ? WHERE out_trade_no = ?").bind(day, order.outTradeNo).run();
    try {
      const reply = await report(date);
      expect(reply.body.summary.billExists).toBe(false);
      expect(reply.body.missingAtWechat).toEqual([
        { kind: "payment", outTradeNo: order.outTradeNo, transactionId: order.transactionId, outRefundNo: null, localFee: 100, localStatus: "PAID" },
      ]);
    } finally {
      await env.DB.prepare("UPDATE orders SET paid_at = ? WHERE out_trade_no = ?").bind(before, order.outTradeNo).run();
    }
  });

  it("No Bill Exist before 10:00 Beijing the next day means not generated yet → BILL_NOT_READY until then, then an empty bill", async () => {
    const date = beijingToday(-45);
    const early = await apiError(reportAsOf(date, beijingAt(date, "09:30:00") + DAY_MS));
    expect(early).toMatchObject({ status: 503, code: "BILL_NOT_READY", headers: { "Retry-After": "1800" } });
    expect(early.message).toContain("10:00 Beijing time the next day");
    expect((await reportAsOf(date, beijingAt(date, "10:00:00") + DAY_MS)).summary.billExists).toBe(false);
  });

  it("Bill Creating → 503 BILL_NOT_READY with Retry-After (until 10:00 the next day, else 10 minutes)", async () => {
    const creating = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[Bill Creating]]></return_msg></xml>";
    spyWechat(async (_request, path) => (path === "/pay/downloadbill" ? new Response(creating) : undefined));
    const reply = await report(beijingToday(-2));
    expect(reply.status).toBe(503);
    expect(reply.body.error.code).toBe("BILL_NOT_READY");
    expect(reply.headers.get("retry-after")).toBe("600");
    const date = beijingToday(-3);
    const early = await apiError(reportAsOf(date, beijingAt(date, "09:15:00") + DAY_MS));
    expect(early).toMatchObject({ status: 503, code: "BILL_NOT_READY", headers: { "Retry-After": String(45 * 60) } });
  });

  it("a bill over the size cap → 502 UPSTREAM_ERROR saying so, nothing parsed", async () => {
    const huge = "x".repeat(MAX_BILL_BYTES + 1);
    spyWechat(async (_request, path) => (path === "/pay/downloadbill" ? new Response(huge, { headers: { "content-type": "text/plain" } }) : undefined));
    const reply = await report(beijingToday(-1));
    expect(reply.status).toBe(502);
    expect(reply.body.error.code).toBe("UPSTREAM_ERROR");
    expect(reply.body.error.message).toContain("larger than 5 MiB");
  });

  for (const [name, body, status] of [
    ["SYSTEMERROR", "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[SYSTEMERROR]]></return_msg></xml>", 200],
    ["HTTP 500", "Internal Server Error", 500],
    ["a truncated bill", "交易时间,公众账号ID\r\n`2026", 200],
  ] as const) {
    it(`${name} → 502 UPSTREAM_ERROR`, async () => {
      spyWechat(async (_request, path) => (path === "/pay/downloadbill" ? new Response(body, { status }) : undefined));
      const reply = await report(beijingToday(-1));
      expect(reply.status).toBe(502);
      expect(reply.body.error.code).toBe("UPSTREAM_ERROR");
    });
  }

  it("the date must be 8 digits, a real date, before today (Beijing) → 400 without calling WeChat", async () => {
    const { paths } = spyWechat();
    for (const date of ["2026011", "202601011", "20260230", "20261301", "abcdefgh", "2026-01-01", beijingToday(), beijingToday(1), beijingToday(400)]) {
      const reply = await report(date);
      expect(reply.status, date).toBe(400);
      expect(reply.body.error.message).toContain("date");
    }
    expect((await report(beijingToday())).body.error.message).toContain("10:00 Beijing time the next day");
    expect(paths).toEqual([]);
  });

  it("a user token → 401", async () => {
    const reply = await api("GET", `/admin/reconciliation/${beijingToday(-1)}`, { token });
    expect(reply.status).toBe(401);
  });
});

describe("the Beijing day's edges", () => {
  /** An ALL bill of these trades, rendered like WeChat's (BOM, CRLF, backticks, yuan, summary row). */
  function allBill(trades: { time: number; outTradeNo: string; transactionId: string; totalFee: number }[]) {
    const header = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    const dashed = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace("T", " ");
    const tick = (cells: string[]) => cells.map((c) => "`" + c).join(",");
    const total = trades.reduce((n, t) => n + t.totalFee, 0);
    const lines = [
      header,
      ...trades.map((t) => tick([
        dashed(t.time), env.WECHAT_APPID, env.WECHAT_MCH_ID, "0", "", t.transactionId, t.outTradeNo, "o-bill-edge", "JSAPI", "SUCCESS", "OTHERS", "CNY",
        fenToYuan(t.totalFee), "0.00", "0", "0", "0.00", "0.00", "", "", "Bill item A", "", "0.00000", "0.60%", fenToYuan(t.totalFee), "0.00", "",
      ])),
      "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
      tick([String(trades.length), fenToYuan(total), "0.00", "0.00", "0.00000", fenToYuan(total), "0.00"]),
    ];
    return `\uFEFF${lines.join("\r\n")}\r\n`;
  }

  it("a payment at 23:59:59 Beijing belongs to that day's bill, one at 00:00:00 to the next day's", async () => {
    const date = beijingToday(-20);
    const next = beijingToday(-19);
    const trades: { time: number; outTradeNo: string; transactionId: string; totalFee: number }[] = [];
    for (const [quantity, time] of [[1, beijingAt(date, "23:59:59")], [2, beijingAt(next, "00:00:00")]] as const) {
      const { order } = await newOrder(token, "bill-a", quantity);
      const transactionId = `4200EDGE${time}${quantity}`;
      const timeEnd = new Date(time + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, "");
      const notify = await postNotify("/wechat/pay/notify", signedNotifyXml(payNotifyFields(order, { transaction_id: transactionId, time_end: timeEnd })));
      expect(notify.status).toBe(200);
      expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", paid_at: time });
      trades.push({ time, outTradeNo: order.outTradeNo, transactionId, totalFee: order.totalFee });
    }
    // WeChat's bill for a date holds the trades of that Beijing date.
    spyWechat(async (request, path) => {
      if (path !== "/pay/downloadbill") return undefined;
      const billDate = xmlField(await request.text(), "bill_date");
      const ofDay = trades.filter((t) => beijingDateOf(t.time) === billDate);
      if (ofDay.length === 0) return new Response(toXml({ return_code: "FAIL", return_msg: "No Bill Exist", error_code: "20002" }));
      return new Response(allBill(ofDay), { headers: { "content-type": "text/plain;charset=utf-8" } });
    });
    for (const [d, fee] of [[date, 100], [next, 200]] as const) {
      const reply = await report(d);
      expect(reply.status, d).toBe(200);
      expect(reply.body.summary, d).toEqual({
        billExists: true,
        wechat: { paymentCount: 1, paymentFee: fee, refundCount: 0, refundFee: 0, otherAppRows: 0 },
        local: { paymentCount: 1, paymentFee: fee, refundCount: 0, refundFee: 0 },
        differences: 0,
      });
    }
  });
});
