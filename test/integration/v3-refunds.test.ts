// WeChat Pay API v3 refunds inside workerd, in each trust mode (public key, platform certificate,
// migrating): POST /admin/orders/:no/refunds on a v3 order → POST /v3/refund/domestic/refunds at the
// simulator over the real v3 protocol (no mTLS) → the signed, encrypted REFUND.* callback → the one
// refund transition, with refund.succeeded / order.refunded from the events trigger; the v3 error codes
// (NOT_ENOUGH, FREQUENCY_LIMITED, SYSTEM_ERROR, USER_ACCOUNT_ABNORMAL) onto v2's outcomes; the scheduled
// job's refund query and re-send; callbacks that do not match, or were not sent by WeChat.
import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { putProduct, rows, sim, snapshot } from "./harness";
import { ageRefund, eventsOf, orderRow, refundRow, spyWechat } from "./refund-harness";
import {
  apiWith, craftTransactionCallback, deliverWith, loginWith, postV3Notify, receivedV3, setSimMode, TRUST_MODES, v3Env, type TrustMode,
} from "./v3-harness";

const REFUNDS = "/v3/refund/domestic/refunds";
const REFUND_QUERY = "/v3/refund/domestic/refunds/{out_refund_no}";
const NOTIFY = "/wechat/v3/refund/notify";

beforeAll(async () => {
  await putProduct("v3r-tea", "Refund tea", 1000);
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await setSimMode("publicKey");
});

const merchantEvents = (outTradeNo: string) =>
  rows<{ type: string }>("SELECT type FROM merchant_events WHERE out_trade_no = ? ORDER BY seq", outTradeNo).then((r) => r.map((e) => e.type));
const anomalies = (outTradeNo: string) => eventsOf(outTradeNo).then((all) => all.filter((e) => e.verdict === "anomaly").map((e) => JSON.parse(e.detail ?? "{}").reason));
/** The refund requests the simulator received for one out_refund_no (their JSON bodies). */
const refundCalls = async (outRefundNo: string) =>
  (await receivedV3(REFUNDS)).map((r) => JSON.parse(r.raw)).filter((b) => b.out_refund_no === outRefundNo);
const refundQueries = async (outRefundNo: string) => (await receivedV3(REFUND_QUERY)).filter((r) => r.path.endsWith(`/${outRefundNo}`));

describe.each(TRUST_MODES)("API v3 refunds in %s mode", (mode: TrustMode) => {
  const v3 = v3Env(mode);
  let token: string;
  beforeAll(async () => {
    await setSimMode(mode);
    token = await loginWith(v3, `v3refund-${mode}`);
  });

  const adminWith = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    apiWith(v3, method, `/admin${path}`, { token: env.ADMIN_TOKEN, body, headers });
  const refund = (outTradeNo: string, refundFee: number, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    adminWith("POST", `/orders/${outTradeNo}/refunds`, { refundFee, ...extra }, headers);
  /** WeChat finishes a refund (v3 names: SUCCESS, CLOSED, ABNORMAL) and sends its callback, unless `notify` is "none". */
  const complete = async (outRefundNo: string, status: "SUCCESS" | "CLOSED" | "ABNORMAL", notify: "normal" | "none" = "normal") => {
    const reply = await sim("POST", "/refunds/complete", { outRefundNo, status, notify });
    expect(reply.status).toBe(200);
  };
  /** Delivers what is due and returns the replies to this file's refund callbacks. */
  const deliverRefundCallbacks = async () => (await deliverWith(v3)).filter((d) => d.url.endsWith(NOTIFY));
  /** A PAID v3 order of `quantity` × 1000 fen (paid in WeChat; its callback delivered). */
  async function paidOrder(quantity = 1) {
    const created = await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3r-tea", quantity }] } });
    expect(created.body.order).toMatchObject({ status: "NOTPAY", api: "v3" });
    const paid = (await sim("POST", "/pay", { payment: created.body.payment })).body;
    await deliverWith(v3);
    expect(await orderRow(created.body.order.outTradeNo)).toMatchObject({ status: "PAID", api: "v3" });
    return { outTradeNo: created.body.order.outTradeNo as string, totalFee: created.body.order.totalFee as number, transactionId: paid.transactionId as string };
  }

  it("half → PROCESSING → REFUND.SUCCESS → SUCCESS and refund.succeeded; the rest → REFUNDED and order.refunded", async () => {
    const order = await paidOrder(2);
    const half = await refund(order.outTradeNo, 1000, { reason: "one box was damaged" });
    expect(half.status).toBe(201);
    expect(half.body.refund).toMatchObject({ refundFee: 1000, status: "PROCESSING", reason: "one box was damaged" });
    const no = half.body.refund.outRefundNo;
    // The request WeChat received: no mTLS in v3; the v3 notify URL on the order's own origin.
    expect(await refundCalls(no)).toEqual([
      {
        out_trade_no: order.outTradeNo,
        out_refund_no: no,
        reason: "one box was damaged",
        notify_url: "https://shop.example/wechat/v3/refund/notify",
        amount: { refund: 1000, total: 2000, currency: "CNY" },
      },
    ]);
    // WeChat's refund_id from its signed reply.
    expect((await refundRow(no)).refund_id).toBe((await sim("GET", `/refunds/${no}`)).body.refundId);

    await complete(no, "SUCCESS");
    const replies = await deliverRefundCallbacks();
    expect(replies.map((r) => [r.status, r.body, r.acknowledged])).toEqual([[200, "", true]]);
    expect(await refundRow(no)).toMatchObject({ status: "SUCCESS", succeeded_at: expect.any(Number) });
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 1000 });
    expect(await merchantEvents(order.outTradeNo)).toEqual(["order.paid", "refund.succeeded"]);
    const applied = (await eventsOf(order.outTradeNo)).filter((e) => e.identity === `refund:${no}:SUCCESS`);
    expect(applied).toHaveLength(1);
    expect(JSON.parse(applied[0]!.detail!)).toMatchObject({ source: "refund_notify", api: "v3", v3_status: "SUCCESS" });

    // The same callback again (and, while migrating, signed by the other key): 200, nothing new.
    await sim("POST", "/v3/notify", { outRefundNo: no, notify: "duplicate" });
    expect((await deliverRefundCallbacks()).map((r) => [r.status, r.acknowledged])).toEqual([[200, true], [200, true]]);
    expect(await merchantEvents(order.outTradeNo)).toEqual(["order.paid", "refund.succeeded"]);

    const rest = await refund(order.outTradeNo, 1000);
    expect(rest.status).toBe(201);
    await complete(rest.body.refund.outRefundNo, "SUCCESS");
    await deliverRefundCallbacks();
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 2000 });
    expect(await merchantEvents(order.outTradeNo)).toEqual(["order.paid", "refund.succeeded", "refund.succeeded", "order.refunded"]);
    const view = await adminWith("GET", `/orders/${order.outTradeNo}`);
    expect(view.body.order).toMatchObject({ status: "REFUNDED", refundedFee: 2000, api: "v3" });
  });

  it("REFUND.CLOSED releases the amount (REFUNDCLOSE); REFUND.ABNORMAL holds it (CHANGE) until a later SUCCESS", async () => {
    const order = await paidOrder();
    const closed = (await refund(order.outTradeNo, 1000)).body.refund.outRefundNo;
    await complete(closed, "CLOSED");
    await deliverRefundCallbacks();
    expect((await refundRow(closed)).status).toBe("REFUNDCLOSE");
    expect(await merchantEvents(order.outTradeNo)).toEqual(["order.paid", "refund.closed"]);

    const abnormal = await refund(order.outTradeNo, 1000);
    expect(abnormal.status).toBe(201); // the closed refund's amount was released
    const no = abnormal.body.refund.outRefundNo;
    await complete(no, "ABNORMAL");
    await deliverRefundCallbacks();
    expect((await refundRow(no)).status).toBe("CHANGE");
    expect((await refund(order.outTradeNo, 1)).status).toBe(409); // still held
    await complete(no, "SUCCESS");
    await deliverRefundCallbacks();
    expect((await refundRow(no)).status).toBe("SUCCESS");
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 1000 });
  });

  it("two requests with one Idempotency-Key at once refund once", async () => {
    const order = await paidOrder();
    const headers = { "idempotency-key": `v3-double-${mode}` };
    const [a, b] = await Promise.all([refund(order.outTradeNo, 300, {}, headers), refund(order.outTradeNo, 300, {}, headers)]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.refund.outRefundNo).toBe(b.body.refund.outRefundNo);
    expect(await rows("SELECT out_refund_no FROM refunds WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(1);
    expect(await refundCalls(a.body.refund.outRefundNo)).toHaveLength(1);
    expect((await sim("GET", `/orders/${order.outTradeNo}`)).body.refunds).toHaveLength(1);
  });

  it("a lost callback: the scheduled job's refund query settles it", async () => {
    const order = await paidOrder();
    const no = (await refund(order.outTradeNo, 400)).body.refund.outRefundNo;
    await complete(no, "SUCCESS", "none");
    await ageRefund(no, 120_000);
    const run = await adminWith("POST", "/reconcile");
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ refundsQueried: expect.any(Number), refundsUpdated: expect.any(Number) });
    expect(await refundQueries(no)).toHaveLength(1);
    expect(await refundRow(no)).toMatchObject({ status: "SUCCESS" });
    expect(await merchantEvents(order.outTradeNo)).toEqual(["order.paid", "refund.succeeded"]);
    const [applied] = (await eventsOf(order.outTradeNo)).filter((e) => e.identity === `refund:${no}:SUCCESS`);
    expect(applied).toMatchObject({ kind: "reconcile" });
  });

  it("tampered, unsigned or foreign callbacks → 401/400, nothing written; the genuine retry is applied", async () => {
    const order = await paidOrder();
    const no = (await refund(order.outTradeNo, 500)).body.refund.outRefundNo;
    for (const [spoil, status] of [["probe", 401], ["unsigned", 401], ["stale_timestamp", 401], ["unknown_serial", 401], ["reserialized_body", 401], ["tampered_body", 401], ["gcm_tag", 400], ["wrong_aad", 400]] as const) {
      const before = await snapshot();
      // A forgery claiming the PROCESSING refund finished.
      expect((await sim("POST", "/v3/notify", { outRefundNo: no, spoil })).status).toBe(200);
      const replies = await deliverRefundCallbacks();
      expect(replies.map((r) => [r.status, JSON.parse(r.body).code, r.acknowledged]), spoil).toEqual([[status, "FAIL", false]]);
      expect(await snapshot(), spoil).toEqual(before);
    }
    expect((await refundRow(no)).status).toBe("PROCESSING");
    await complete(no, "SUCCESS");
    expect((await deliverRefundCallbacks()).map((r) => r.status)).toEqual([200]);
    expect((await refundRow(no)).status).toBe("SUCCESS");
  });
});

describe("API v3 refund failures (public-key mode)", () => {
  const v3 = v3Env("publicKey");
  let token: string;
  beforeAll(async () => {
    await setSimMode("publicKey");
    token = await loginWith(v3, "v3refund-faults");
  });
  const refund = (outTradeNo: string, refundFee: number) =>
    apiWith(v3, "POST", `/admin/orders/${outTradeNo}/refunds`, { token: env.ADMIN_TOKEN, body: { refundFee } });
  const reconcile = () => apiWith(v3, "POST", "/admin/reconcile", { token: env.ADMIN_TOKEN });
  const fault = (body: Record<string, unknown>) => sim("POST", "/faults", { path: REFUNDS, times: 1, ...body });
  async function paidOrder() {
    const created = await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3r-tea", quantity: 1 }] } });
    await sim("POST", "/pay", { payment: created.body.payment, notify: "none" });
    expect((await apiWith(v3, "GET", `/api/orders/${created.body.order.outTradeNo}`, { token })).body.order.status).toBe("PAID");
    return created.body.order.outTradeNo as string;
  }
  /** The job re-sends a refund WeChat does not know, with the same out_refund_no and amounts, once its first call is over a minute old. */
  async function resentByTheJob(no: string) {
    await ageRefund(no, 120_000);
    const run = await reconcile();
    expect(run.body).toMatchObject({ refundsRetried: 1 });
    const calls = await refundCalls(no);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual(calls[0]);
    expect((await refundRow(no)).refund_id).toMatch(/^\d+$/);
  }

  it("NOT_ENOUGH → 201 PROCESSING (amount held), asked once, an anomaly to top up; the job re-sends the same out_refund_no", async () => {
    const no0 = await paidOrder();
    await fault({ fault: "notenough" });
    const reply = await refund(no0, 600);
    expect(reply.status).toBe(201);
    const no = reply.body.refund.outRefundNo;
    expect(await refundRow(no)).toMatchObject({ status: "PROCESSING", refund_id: null });
    expect(await refundQueries(no)).toHaveLength(1);
    expect(await anomalies(no0)).toEqual(["refund_waiting_for_funds"]);
    expect((await refund(no0, 401)).status).toBe(409); // 600 of 1000 held
    await resentByTheJob(no);
  });

  it("FREQUENCY_LIMITED for a refund WeChat did accept → its query finds it: 201 with WeChat's refund_id", async () => {
    const no0 = await paidOrder();
    // WeChat processes the call, then the reply is a rate limit (as the refund page describes).
    spyWechat(async (request, path, forward) => {
      if (request.method !== "POST" || path !== REFUNDS) return undefined;
      await forward(request);
      return new Response(JSON.stringify({ code: "FREQUENCY_LIMITED", message: "该笔退款为受理中，请调用查单接口确认或降低频率原单重试" }), { status: 429 });
    });
    const reply = await refund(no0, 100);
    expect(reply.status).toBe(201);
    const no = reply.body.refund.outRefundNo;
    expect(await refundQueries(no)).toHaveLength(1);
    expect((await refundRow(no)).refund_id).toBe((await sim("GET", `/refunds/${no}`)).body.refundId);
  });

  it.each([
    ["FREQUENCY_LIMITED", { fault: "business", status: 429, errCode: "FREQUENCY_LIMITED", errCodeDes: "频率限制" }, 1],
    ["SYSTEM_ERROR", { fault: "systemerror" }, 0],
  ] as const)("%s before WeChat took the refund → 201 PROCESSING; the job re-sends the same request", async (_code, injected, queries) => {
    const no0 = await paidOrder();
    await fault(injected);
    const reply = await refund(no0, 100);
    expect(reply.status).toBe(201);
    const no = reply.body.refund.outRefundNo;
    expect(await refundRow(no)).toMatchObject({ status: "PROCESSING", refund_id: null });
    // FREQUENCY_LIMITED may mean "already under way": WeChat is asked; SYSTEM_ERROR is simply retried later.
    expect(await refundQueries(no)).toHaveLength(queries);
    await resentByTheJob(no);
  });

  it("a signed definitive refusal (USER_ACCOUNT_ABNORMAL) → 502 naming it; REFUNDCLOSE, the amount released", async () => {
    const no0 = await paidOrder();
    await fault({ fault: "business", status: 403, errCode: "USER_ACCOUNT_ABNORMAL", errCodeDes: "退款请求失败" });
    const reply = await refund(no0, 1000);
    expect(reply.status).toBe(502);
    expect(reply.body.error).toMatchObject({ code: "UPSTREAM_ERROR", errCode: "USER_ACCOUNT_ABNORMAL" });
    expect(await refundRow(reply.body.error.outRefundNo)).toMatchObject({ status: "REFUNDCLOSE" });
    expect((await refund(no0, 1000)).status).toBe(201);
  });

  it("an emoji in the reason → 400 before anything is written (v3 refuses characters outside the BMP)", async () => {
    const no0 = await paidOrder();
    const reply = await apiWith(v3, "POST", `/admin/orders/${no0}/refunds`, { token: env.ADMIN_TOKEN, body: { refundFee: 1, reason: "broken 📦" } });
    expect(reply.status).toBe(400);
    expect(await rows("SELECT * FROM refunds WHERE out_trade_no = ?", no0)).toEqual([]);
  });
});

describe("API v3 refund callbacks that match no refund of ours (public-key mode)", () => {
  const v3 = v3Env("publicKey");
  let token: string;
  beforeAll(async () => {
    await setSimMode("publicKey");
    token = await loginWith(v3, "v3refund-unmatched");
  });
  /** A REFUND.SUCCESS signed by WeChat Pay's key, made in the test (node:crypto). */
  const refundCallback = (resource: Record<string, unknown>) =>
    craftTransactionCallback(resource, { originalType: "refund", eventType: "REFUND.SUCCESS" });
  const resourceOf = (r: { outTradeNo: string; outRefundNo: string; refund: number; total: number }) => ({
    mchid: env.WECHAT_MCH_ID,
    transaction_id: "4200000000202612030000000001",
    out_trade_no: r.outTradeNo,
    refund_id: "50300000002026120300000000001",
    out_refund_no: r.outRefundNo,
    refund_status: "SUCCESS",
    success_time: "2026-12-03T10:05:00+08:00",
    user_received_account: "支付用户零钱",
    amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
  });

  it("a refund we never created (made on the merchant platform) → 200 and one unknown_refund anomaly; nothing created", async () => {
    const outRefundNo = `PLATFORM${Date.now()}`;
    const callback = refundCallback(resourceOf({ outTradeNo: "SOMEORDER1", outRefundNo, refund: 100, total: 100 }));
    for (let i = 0; i < 2; i++) expect((await postV3Notify(v3, callback, NOTIFY)).status).toBe(200);
    expect(await rows("SELECT * FROM refunds WHERE out_refund_no = ?", outRefundNo)).toEqual([]);
    const events = await rows<{ verdict: string; detail: string }>("SELECT verdict, detail FROM events WHERE out_refund_no = ?", outRefundNo);
    expect(events.map((e) => [e.verdict, JSON.parse(e.detail).reason])).toEqual([["anomaly", "unknown_refund"]]);
  });

  it("the wrong amount or another order for our out_refund_no → 200, a refund_mismatch anomaly, the refund untouched", async () => {
    const created = await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3r-tea", quantity: 1 }] } });
    const outTradeNo = created.body.order.outTradeNo;
    await sim("POST", "/pay", { payment: created.body.payment, notify: "none" });
    await apiWith(v3, "GET", `/api/orders/${outTradeNo}`, { token });
    const outRefundNo = (await apiWith(v3, "POST", `/admin/orders/${outTradeNo}/refunds`, { token: env.ADMIN_TOKEN, body: { refundFee: 300 } })).body.refund.outRefundNo;
    const before = await refundRow(outRefundNo);

    const wrongAmount = await postV3Notify(v3, refundCallback(resourceOf({ outTradeNo, outRefundNo, refund: 1000, total: 1000 })), NOTIFY);
    const otherOrder = await postV3Notify(v3, refundCallback(resourceOf({ outTradeNo: "ANOTHERORDER1", outRefundNo, refund: 300, total: 1000 })), NOTIFY);
    expect([wrongAmount.status, otherOrder.status]).toEqual([200, 200]);
    expect(await refundRow(outRefundNo)).toEqual(before);
    expect(await orderRow(outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 0 });
    expect(await anomalies(outTradeNo)).toEqual(["refund_mismatch", "refund_mismatch"]);
    expect(await merchantEvents(outTradeNo)).toEqual(["order.paid", "anomaly.recorded", "anomaly.recorded"]);
  });

  it("an event type this URL does not handle → 200, nothing written", async () => {
    const before = await snapshot();
    const callback = craftTransactionCallback({ appid: env.WECHAT_APPID }, { eventType: "PAYSCORE.USER_OPEN_SERVICE" });
    expect((await postV3Notify(v3, callback, NOTIFY)).status).toBe(200);
    expect(await snapshot()).toEqual(before);
  });
});
