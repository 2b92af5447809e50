// Regression tests for what an outside review of the running service broke (each failed before the
// fix): refund notifies spliced from two genuine ciphertexts, a customer's text breaking the daily
// bill, WeChat's own limits (Int totals, well-formed UTF-16, empty fee_type), a notify's meaning
// taken from trade_state, and one RECONCILE_DELAY_SECONDS for refunds too. All over HTTP against the
// Worker in workerd with the simulator as WeChat.
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { decryptReqInfo, decryptReqInfoBlocks, encryptReqInfo, parseXml, signedXml } from "../oracle";
import { ORIGIN, admin, createOrder, login, payNotifyFields, postNotify, putProduct, signedNotifyXml, snapshot } from "./harness";
import {
  ageRefund, completeAtWechat, deliverOwn, eventsOf, newOrder, orderRow, paidOrder, received, refundRow, requestRefund, spyWechat, xmlField,
} from "./refund-harness";

const ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";
const REFUND_NOTIFY = "/wechat/refund/notify";
const BLOCK = 16;

let token: string;
beforeAll(async () => {
  await putProduct("safe-item", "Money safety item", 100);
  token = await login("moneysafety");
});
afterEach(() => vi.restoreAllMocks());

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
/** A genuine req_info's plaintext, decrypted by the test oracle with its padding kept. */
const decryptBlocks = (reqInfo: string) => decryptReqInfoBlocks(reqInfo, env.WECHAT_PAY_KEY);

/**
 * The attack: the leading ciphertext blocks of `head` (up to the block holding `<refund_status>`)
 * followed by the trailing blocks of `tail`. Both are genuine ciphertexts of the same layout, so the
 * result decrypts to valid XML with head's out_refund_no and tail's refund_status. No key needed.
 */
function splice(head: string, tail: string): string {
  const headPlain = decryptBlocks(head);
  const at = headPlain.indexOf("<refund_status>");
  expect(at).toBe(decryptBlocks(tail).indexOf("<refund_status>"));
  const cut = Math.floor(at / BLOCK) * BLOCK;
  expect(headPlain.slice(0, cut)).toContain("</refund_id>");
  const [headBytes, tailBytes] = [fromBase64(head), fromBase64(tail)];
  const out = new Uint8Array(cut + tailBytes.length - cut);
  out.set(headBytes.subarray(0, cut));
  out.set(tailBytes.subarray(cut), cut);
  return toBase64(out);
}

/** Replaces req_info in a genuine refund notification body. */
const withReqInfo = (body: string, reqInfo: string) => body.replace(/<req_info><!\[CDATA\[[^\]]*\]\]><\/req_info>/, `<req_info><![CDATA[${reqInfo}]]></req_info>`);

/** A PROCESSING refund of `fee` on `outTradeNo`. */
async function refund(outTradeNo: string, fee: number): Promise<string> {
  const reply = await requestRefund(outTradeNo, fee);
  expect(reply.status).toBe(201);
  return reply.body.refund.outRefundNo;
}

/** The simulator finishes the refund and its genuine notification is delivered; returns that body. */
async function finishedWithNotify(outRefundNo: string, status: "SUCCESS" | "CHANGE" | "REFUNDCLOSE"): Promise<string> {
  const [own] = await deliverOwn(await completeAtWechat(outRefundNo, status));
  expect([own!.status, own!.reply]).toEqual([200, ACK]);
  return own!.body;
}

const anomalyReasons = async (outTradeNo: string) =>
  (await eventsOf(outTradeNo)).filter((e) => e.verdict === "anomaly").map((e) => JSON.parse(e.detail!).reason as string);

describe("refund notifies are hints: WeChat's refundquery decides", () => {
  it("a splice of R2 (CHANGE) and R1 (SUCCESS) does not move R2: WeChat is asked, R2 stays CHANGE, an anomaly, ACK", async () => {
    const order = await paidOrder(token, "safe-item");
    const r1 = await refund(order.outTradeNo, 30);
    const r2 = await refund(order.outTradeNo, 30);
    const r1Body = await finishedWithNotify(r1, "SUCCESS");
    const r2Body = await finishedWithNotify(r2, "CHANGE");
    expect(await orderRow(order.outTradeNo)).toMatchObject({ refunded_fee: 30 });

    const forged = splice(xmlField(r2Body, "req_info")!, xmlField(r1Body, "req_info")!);
    const queriesBefore = (await received("/pay/refundquery", "out_refund_no", r2)).length;
    const reply = await postNotify(REFUND_NOTIFY, withReqInfo(r2Body, forged));

    expect([reply.status, reply.text]).toEqual([200, ACK]);
    expect(await refundRow(r2)).toMatchObject({ status: "CHANGE", succeeded_at: null });
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 30 });
    expect((await received("/pay/refundquery", "out_refund_no", r2)).length).toBe(queriesBefore + 1);
    expect(await anomalyReasons(order.outTradeNo)).toEqual(["refund_notify_unconfirmed"]);
    // The same forgery again: nothing moves, no second anomaly.
    expect((await postNotify(REFUND_NOTIFY, withReqInfo(r2Body, forged))).status).toBe(200);
    expect(await anomalyReasons(order.outTradeNo)).toEqual(["refund_notify_unconfirmed"]);
    expect(await refundRow(r2)).toMatchObject({ status: "CHANGE" });
  });

  it("a REFUNDCLOSE WeChat does not confirm keeps the amount held (no second refund of it)", async () => {
    const order = await paidOrder(token, "safe-item");
    const held = await refund(order.outTradeNo, 100);
    // A genuine REFUNDCLOSE ciphertext of another refund of the same shape, spliced onto this one.
    const other = await paidOrder(token, "safe-item");
    const closed = await refund(other.outTradeNo, 100);
    const closedBody = await finishedWithNotify(closed, "REFUNDCLOSE");
    const heldBody = withReqInfo(closedBody, splice(await genuineReqInfo(held, order.outTradeNo), xmlField(closedBody, "req_info")!));

    const reply = await postNotify(REFUND_NOTIFY, heldBody);
    expect(reply.status).toBe(200);
    expect(await refundRow(held)).toMatchObject({ status: "PROCESSING" });
    expect((await requestRefund(order.outTradeNo, 1)).status).toBe(409);
    expect(await anomalyReasons(order.outTradeNo)).toEqual(["refund_notify_unconfirmed"]);
  });

  it("refundquery unavailable → FAIL 500 and the refund stays as it was; WeChat's retry is applied once", async () => {
    const order = await paidOrder(token, "safe-item");
    const r = await refund(order.outTradeNo, 100);
    const ids = await completeAtWechat(r, "SUCCESS");
    const spy = spyWechat(async (_request, path) => (path === "/pay/refundquery" ? new Response("busy", { status: 503 }) : undefined));
    const before = await snapshot();
    const [first] = await deliverOwn(ids);
    expect(first!.status).toBe(500);
    expect(first!.reply).toMatch(/<return_code><!\[CDATA\[FAIL\]\]>/);
    expect(first!.acknowledged).toBe(false);
    expect(await snapshot()).toEqual(before);
    expect(spy.paths).toContain("/pay/refundquery");

    spy.spy.mockRestore();
    const retry = await postNotify(REFUND_NOTIFY, first!.body);
    expect([retry.status, retry.text]).toEqual([200, ACK]);
    expect(await refundRow(r)).toMatchObject({ status: "SUCCESS" });
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100 });
  });

  it("WeChat's own refundquery answer disagrees with our refund (another amount) → anomaly, ACK (a retry would only ask again)", async () => {
    const order = await paidOrder(token, "safe-item");
    const r = await refund(order.outTradeNo, 100);
    const ids = await completeAtWechat(r, "SUCCESS");
    spyWechat(async (request, path, forward) => {
      if (path !== "/pay/refundquery") return undefined;
      const real = await (await forward(request)).text();
      const fields = parseXml(real);
      const altered: Record<string, string> = { ...fields, refund_fee_0: "99" };
      delete altered.sign;
      return new Response(signedXml(altered, env.WECHAT_PAY_KEY));
    });
    const [delivery] = await deliverOwn(ids);
    expect([delivery!.status, delivery!.reply]).toEqual([200, ACK]);
    expect(await refundRow(r)).toMatchObject({ status: "PROCESSING" });
    expect(await anomalyReasons(order.outTradeNo)).toEqual(["refund_mismatch"]);
  });

  it("a refund made on the merchant platform (never created here) → anomaly, ACK, nothing created", async () => {
    const order = await paidOrder(token, "safe-item");
    const r = await refund(order.outTradeNo, 100);
    const body = await finishedWithNotify(r, "SUCCESS");
    // Same order, an out_refund_no we never issued: re-encrypt the genuine plaintext with it.
    const plain = decryptReqInfo(xmlField(body, "req_info")!, env.WECHAT_PAY_KEY).replace(r, "RPLATFORM00000000000001");
    const before = await snapshot();
    const reply = await postNotify(REFUND_NOTIFY, withReqInfo(body, encryptAsWechat(plain)));
    expect([reply.status, reply.text]).toEqual([200, ACK]);
    const after = await snapshot();
    expect(after.refunds).toEqual(before.refunds);
    expect(after.orders).toEqual(before.orders);
    expect(await anomalyReasons(order.outTradeNo)).toEqual(["unknown_refund"]);
  });
});

/** base64(AES-256-ECB(PKCS#7)) of `plain` with WeChat's derived key (as the simulator would write it). */
const encryptAsWechat = (plain: string) => encryptReqInfo(plain, env.WECHAT_PAY_KEY);

/**
 * The req_info WeChat would send for `outRefundNo` if it said PROCESSING (never sent, but its leading
 * blocks are what a splice needs): the simulator's plaintext layout, encrypted with node:crypto.
 */
async function genuineReqInfo(outRefundNo: string, outTradeNo: string): Promise<string> {
  const row = await refundRow(outRefundNo);
  const order = await orderRow(outTradeNo);
  const fields: Record<string, string> = {
    out_refund_no: outRefundNo, out_trade_no: outTradeNo, refund_account: "REFUND_SOURCE_UNSETTLED_FUNDS",
    refund_fee: String(row.refund_fee), refund_id: row.refund_id, refund_recv_accout: "支付用户零钱",
    refund_request_source: "API", refund_status: "PROCESSING", settlement_refund_fee: String(row.refund_fee),
    settlement_total_fee: String(order.total_fee), total_fee: String(order.total_fee), transaction_id: order.transaction_id,
  };
  return encryptAsWechat(`<root>\n${Object.entries(fields).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join("\n")}\n</root>`);
}

describe("a customer cannot break reconciliation", () => {
  it("a backtick in attach, a product name or a refund reason → 400 naming the field, nothing written", async () => {
    const before = await snapshot();
    const order = await createOrder(token, [{ sku: "safe-item", quantity: 1 }], { attach: "x,`0.01,`y" });
    expect(order.status).toBe(400);
    expect(order.body.error.message).toMatch(/^attach .*backtick/);
    const product = await admin("PUT", "/products/safe-tick", { name: "Tea `special`", priceFen: 100 });
    expect(product.status).toBe(400);
    expect(product.body.error.message).toMatch(/^name .*backtick/);
    expect(await snapshot()).toEqual(before);

    const paid = await paidOrder(token, "safe-item");
    const refundBefore = await snapshot();
    const reason = await requestRefund(paid.outTradeNo, 10, "damaged,`1.00");
    expect(reason.status).toBe(400);
    expect(reason.body.error.message).toMatch(/^reason .*backtick/);
    expect(await snapshot()).toEqual(refundBefore);
  });

  it("a bill row it cannot read is its own difference (line, reason); the rest of the day is reconciled", async () => {
    // A payment on a past day (a day's bill is only asked for once the day is over).
    const date = pastDate(3);
    const { order } = await newOrder(token, "safe-item");
    const fields = payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 }, { time_end: `${date}120000` });
    expect((await postNotify("/wechat/pay/notify", signedNotifyXml(fields))).status).toBe(200);
    const good = billRow({ ...fields, attach: "table 7" });
    // Another trade of the day whose attach (written unescaped by WeChat) holds x,`0.01,`y.
    const broken = billRow({ ...fields, out_trade_no: "SOMEONEELSE0001", transaction_id: "4200000000000000000000000001", attach: "x,`0.01,`y" });
    const bill = [BILL_HEADER, good, broken, BILL_SUMMARY_HEADER, "`2,`2.00,`0.00,`0.00,`0.00000,`2.00,`0.00"].join("\r\n");
    spyWechat(async (_request, path) => (path === "/pay/downloadbill" ? new Response(bill, { headers: { "content-type": "text/plain" } }) : undefined));

    const reply = await admin("GET", `/reconciliation/${date}`);
    expect(reply.status).toBe(200);
    expect(reply.body.unreadable).toEqual([{ line: 3, reason: "expected 27 fields, got 29" }]);
    expect(reply.body.missingLocally).toEqual([]);
    expect(reply.body.mismatched).toEqual([]);
    expect(reply.body.summary.wechat).toMatchObject({ paymentCount: 1, paymentFee: 100 });
    expect(reply.body.summary.differences).toBe(reply.body.missingAtWechat.length + 1);
    expect(reply.body.missingAtWechat.map((m: { outTradeNo: string }) => m.outTradeNo)).not.toContain(order.outTradeNo);
  });

  it("a summary whose trade count differs from the rows read is reported as a difference", async () => {
    const date = pastDate(4);
    const fields = payNotifyFields({ outTradeNo: "NOTOURS00000001", totalFee: 100 }, { time_end: `${date}120000` });
    const bill = [BILL_HEADER, billRow(fields), BILL_SUMMARY_HEADER, "`3,`1.00,`0.00,`0.00,`0.00000,`1.00,`0.00"].join("\r\n");
    spyWechat(async (_request, path) => (path === "/pay/downloadbill" ? new Response(bill) : undefined));
    const reply = await admin("GET", `/reconciliation/${date}`);
    expect(reply.status).toBe(200);
    expect(reply.body.unreadable).toEqual([{ line: 4, reason: "the summary counts 3 trades but the bill holds 1 rows" }]);
  });
});

const BILL_HEADER =
  "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const BILL_SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/** One SUCCESS row of an ALL bill for the notify fields (amounts 100 fen = 1.00). */
function billRow(f: Record<string, string>): string {
  const t = f.time_end!;
  const time = `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`;
  const values = [time, f.appid, f.mch_id, "0", "", f.transaction_id, f.out_trade_no, f.openid, "JSAPI", "SUCCESS", "OTHERS", "CNY",
    "1.00", "0.00", "0", "0", "0.00", "0.00", "", "", "Money safety item", f.attach ?? "", "0.00600", "0.60%", "1.00", "0.00", ""];
  return values.map((v) => `\`${v}`).join(",");
}

/** yyyymmdd, `days` before today in Beijing time. */
const pastDate = (days: number) => new Date(Date.now() + 8 * 3600_000 - days * 86_400_000).toISOString().slice(0, 10).replace(/-/g, "");

describe("WeChat's limits, enforced before anything is committed", () => {
  it("an order total above 2,147,483,647 fen → 400, no order", async () => {
    await putProduct("safe-dear", "Dear item", 100_000_000);
    const before = await snapshot();
    const reply = await createOrder(token, [{ sku: "safe-dear", quantity: 22 }]);
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toContain("2147483647");
    expect(await snapshot()).toEqual(before);
    // 21 × ¥1,000,000 = 2,100,000,000 fen is within WeChat's Int: accepted.
    expect((await createOrder(token, [{ sku: "safe-dear", quantity: 21 }])).status).toBe(201);
    expect((await admin("PUT", "/products/safe-dear", { name: "Dear item", priceFen: 100_000_001 })).status).toBe(400);
  });

  it("lone surrogates in attach, a product name or a refund reason → 400 naming the field", async () => {
    const before = await snapshot();
    const lone = "\ud800".repeat(42);
    const order = await createOrder(token, [{ sku: "safe-item", quantity: 1 }], { attach: lone });
    expect([order.status, order.body.error.message]).toEqual([400, "attach must be well-formed Unicode (no lone surrogates)"]);
    const product = await admin("PUT", "/products/safe-lone", { name: `tea ${"\udc00"}`, priceFen: 100 });
    expect([product.status, product.body.error.message]).toEqual([400, "name must be well-formed Unicode (no lone surrogates)"]);
    expect(await snapshot()).toEqual(before);
    const paid = await paidOrder(token, "safe-item");
    const reason = await requestRefund(paid.outTradeNo, 10, "broken \udbff");
    expect([reason.status, reason.body.error.message]).toEqual([400, "reason must be well-formed Unicode (no lone surrogates)"]);
    // A real astral character (a surrogate pair) is fine.
    expect((await createOrder(token, [{ sku: "safe-item", quantity: 1 }], { attach: "gift 🎁" })).status).toBe(201);
  });

  it("an empty fee_type is an absent one: a genuine notify with <fee_type></fee_type> pays the order", async () => {
    const { order } = await newOrder(token, "safe-item");
    const fields = payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 }, { fee_type: "" });
    const reply = await postNotify("/wechat/pay/notify", signedNotifyXml(fields));
    expect([reply.status, reply.text]).toEqual([200, ACK]);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", transaction_id: fields.transaction_id });
    expect(await anomalyReasons(order.outTradeNo)).toEqual([]);
  });
});

describe("a notify's meaning comes from result_code only", () => {
  it("result_code=FAIL with trade_state=SUCCESS → PAYERROR, not PAID", async () => {
    const { order } = await newOrder(token, "safe-item");
    const fields = payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 }, { result_code: "FAIL", err_code: "NOTENOUGH", trade_state: "SUCCESS" });
    expect((await postNotify("/wechat/pay/notify", signedNotifyXml(fields))).status).toBe(200);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAYERROR", transaction_id: null });
  });

  it("result_code=SUCCESS with trade_state=CLOSED → PAID, not CLOSED", async () => {
    const { order } = await newOrder(token, "safe-item");
    const fields = payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 }, { trade_state: "CLOSED" });
    expect((await postNotify("/wechat/pay/notify", signedNotifyXml(fields))).status).toBe(200);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", transaction_id: fields.transaction_id });
  });
});

describe("RECONCILE_DELAY_SECONDS governs refunds too", () => {
  /** POST /admin/reconcile with RECONCILE_DELAY_SECONDS set to `seconds`. */
  const reconcileWithDelay = (seconds: number) =>
    app.request(`${ORIGIN}/admin/reconcile`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }, { ...env, RECONCILE_DELAY_SECONDS: String(seconds) });

  it("a refund younger than the delay is not queried; once older it is", async () => {
    const order = await paidOrder(token, "safe-item");
    const r = await refund(order.outTradeNo, 100);
    await ageRefund(r, 2 * 60_000);
    expect((await reconcileWithDelay(600)).status).toBe(200);
    expect(await received("/pay/refundquery", "out_refund_no", r)).toHaveLength(0);
    await ageRefund(r, 9 * 60_000);
    expect((await reconcileWithDelay(600)).status).toBe(200);
    expect(await received("/pay/refundquery", "out_refund_no", r)).toHaveLength(1);
  });

  it("with a delay of 0 a new refund is queried on the next run", async () => {
    const order = await paidOrder(token, "safe-item");
    const r = await refund(order.outTradeNo, 100);
    await completeAtWechat(r, "SUCCESS", "none");
    expect((await reconcileWithDelay(0)).status).toBe(200);
    expect(await received("/pay/refundquery", "out_refund_no", r)).toHaveLength(1);
    expect(await refundRow(r)).toMatchObject({ status: "SUCCESS" });
  });
});
