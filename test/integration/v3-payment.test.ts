// WeChat Pay API v3 payments end to end inside workerd, in each trust mode (public key, platform
// certificate, migrating): checkout → JSAPI prepay at the simulator over the real v3 protocol →
// wx.requestPayment parameters with an RSA paySign → the user pays → the signed, encrypted callback
// → PAID exactly once with its order.paid merchant event; re-entry, query-on-read, cancel, the
// scheduled job, and an automatic virtual shipment of a v3 order.
import { createExecutionContext, createMessageBatch, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { rsaVerify } from "../oracle";
import { admin, putProduct, rows, sim } from "./harness";
import { apiWith, deliverWith, KEYS, loginWith, receivedV3, setSimMode, TRUST_MODES, v3Env, type TrustMode } from "./v3-harness";

beforeAll(async () => {
  // The simulator is shared by every file: start from a clean one (no other file's pending notifications).
  await sim("POST", "/reset");
  await putProduct("v3-tea", "Jasmine tea 100g", 1288);
  await putProduct("v3-mint", "Mint candy", 7);
  expect((await admin("PUT", "/products/v3-ebook", { name: "E-book", priceFen: 50, fulfilment: "virtual" })).status).toBe(200);
});
afterAll(async () => {
  await setSimMode("publicKey");
});

const merchantEvents = (outTradeNo: string) =>
  rows<{ type: string }>("SELECT type FROM merchant_events WHERE out_trade_no = ? ORDER BY seq", outTradeNo);
const appliedEvents = (outTradeNo: string) =>
  rows<{ identity: string; kind: string }>("SELECT identity, kind FROM events WHERE out_trade_no = ? AND verdict = 'applied' ORDER BY id", outTradeNo);
const orderRow = async (outTradeNo: string) => (await rows("SELECT * FROM orders WHERE out_trade_no = ?", outTradeNo))[0];

/** The paySign checked as the WeChat client does, with the merchant certificate (node:crypto, test/oracle.ts). */
function expectPaySignVerifies(payment: Record<string, string>) {
  const message = `${env.WECHAT_APPID}\n${payment.timeStamp}\n${payment.nonceStr}\n${payment.package}\n`;
  expect(rsaVerify(message, payment.paySign!, KEYS.merchantCertificate)).toBe(true);
  expect(rsaVerify(`${message}x`, payment.paySign!, KEYS.merchantCertificate)).toBe(false);
}

/** Runs the Worker's cron trigger with `workerEnv`. */
async function runCronWith(workerEnv: Env) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), workerEnv, ctx);
  await waitOnExecutionContext(ctx);
}

describe.each(TRUST_MODES)("API v3 payments in %s mode", (mode: TrustMode) => {
  const v3 = v3Env(mode);
  let token: string;
  beforeAll(async () => {
    await setSimMode(mode);
    token = await loginWith(v3, `v3pay-${mode}`);
  });
  const checkout = (items = [{ sku: "v3-tea", quantity: 2 }], extra: Record<string, unknown> = {}) =>
    apiWith(v3, "POST", "/api/orders", { token, body: { items, ...extra } });

  it("checkout places a v3 order and answers RSA payment parameters that verify with the merchant key", async () => {
    const reply = await checkout([{ sku: "v3-tea", quantity: 2 }, { sku: "v3-mint", quantity: 1 }], { attach: "table 7" });
    expect(reply.status).toBe(201);
    const { order, payment } = reply.body;
    expect(order).toMatchObject({ status: "NOTPAY", totalFee: 2 * 1288 + 7, attach: "table 7", api: "v3" });
    expect(Object.keys(order).at(-1)).toBe("api");
    expect(Object.keys(payment).sort()).toEqual(["nonceStr", "package", "paySign", "signType", "timeStamp"]);
    expect(payment).toMatchObject({ signType: "RSA", timeStamp: expect.stringMatching(/^\d{10}$/), package: expect.stringMatching(/^prepay_id=wx\w+$/) });
    expectPaySignVerifies(payment);

    // The prepay WeChat received: the D1 amount, the session's openid, the v3 notify URL, Beijing time_expire.
    const [prepay] = (await receivedV3("/v3/pay/transactions/jsapi")).filter((r) => JSON.parse(r.raw).out_trade_no === order.outTradeNo);
    const sent = JSON.parse(prepay.raw);
    const [user] = await rows<{ openid: string }>("SELECT u.openid FROM users u JOIN orders o ON o.user_id = u.id WHERE o.out_trade_no = ?", order.outTradeNo);
    expect(sent).toEqual({
      appid: env.WECHAT_APPID,
      mchid: env.WECHAT_MCH_ID,
      description: "Jasmine tea 100g 等3件商品",
      out_trade_no: order.outTradeNo,
      time_expire: new Date(Date.parse(order.expiresAt) + 8 * 3600_000).toISOString().slice(0, 19) + "+08:00",
      attach: "table 7",
      notify_url: "https://shop.example/wechat/v3/pay/notify",
      amount: { total: 2583, currency: "CNY" },
      payer: { openid: user!.openid },
    });
    // Wechatpay-Serial names the public key whenever one is configured, so replies come back signed with it.
    const serial = Object.entries(prepay.headers as Record<string, string>).find(([k]) => k.toLowerCase() === "wechatpay-serial")?.[1];
    expect(serial).toBe(mode === "certificate" ? undefined : KEYS.publicKeyId);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ api: "v3", notify_url: "https://shop.example/wechat/v3/pay/notify" });
  });

  it("the user pays → the signed, encrypted callback → PAID once with one order.paid; a duplicate changes nothing", async () => {
    const { body } = await checkout();
    const paid = (await sim("POST", "/pay", { payment: body.payment })).body;
    expect(paid.outTradeNo).toBe(body.order.outTradeNo);
    const deliveries = await deliverWith(v3);
    const mine = deliveries.filter((d) => d.url.endsWith("/wechat/v3/pay/notify"));
    expect(mine.map((d) => [d.status, d.body, d.acknowledged])).toEqual([[200, "", true]]);
    expect(mine[0]!.serial).toBe(mode === "certificate" ? KEYS.platformSerial : mode === "publicKey" ? KEYS.publicKeyId : mine[0]!.serial);

    const read = await apiWith(v3, "GET", `/api/orders/${body.order.outTradeNo}`, { token });
    expect(read.body.order).toMatchObject({ status: "PAID", transactionId: paid.transactionId, api: "v3", paidAt: expect.any(String) });
    expect(await appliedEvents(body.order.outTradeNo)).toEqual([{ identity: `pay:${paid.transactionId}`, kind: "pay_notify" }]);
    expect((await merchantEvents(body.order.outTradeNo)).map((e) => e.type)).toEqual(["order.paid"]);

    // WeChat sends it again (and, while migrating, signed by the other key): 200, nothing new.
    await sim("POST", "/v3/notify", { outTradeNo: body.order.outTradeNo, notify: "duplicate" });
    const again = await deliverWith(v3);
    expect(again.map((d) => [d.status, d.acknowledged])).toEqual([[200, true], [200, true]]);
    if (mode === "migrating") expect(new Set([mine[0]!.serial, ...again.map((d) => d.serial)])).toEqual(new Set([KEYS.publicKeyId, KEYS.platformSerial]));
    expect(await appliedEvents(body.order.outTradeNo)).toHaveLength(1);
    expect((await merchantEvents(body.order.outTradeNo)).map((e) => e.type)).toEqual(["order.paid"]);
  });

  it("POST /payment reuses the prepay_id with a fresh paySign; an old one is re-entered with identical parameters", async () => {
    const { body } = await checkout([{ sku: "v3-mint", quantity: 3 }]);
    const no = body.order.outTradeNo;
    const again = await apiWith(v3, "POST", `/api/orders/${no}/payment`, { token });
    expect(again.status).toBe(200);
    expect(again.body.payment.package).toBe(body.payment.package);
    expectPaySignVerifies(again.body.payment);
    const calls = () => receivedV3("/v3/pay/transactions/jsapi").then((all) => all.filter((r) => JSON.parse(r.raw).out_trade_no === no));
    expect(await calls()).toHaveLength(1);

    // Past the reuse window: the same out_trade_no with the same parameters, byte for byte.
    await env.DB.prepare("UPDATE orders SET prepay_at = prepay_at - 3 * 3600000 WHERE out_trade_no = ?").bind(no).run();
    const reentered = await apiWith(v3, "POST", `/api/orders/${no}/payment`, { token });
    expect(reentered.status).toBe(200);
    expectPaySignVerifies(reentered.body.payment);
    const [first, second] = await calls();
    expect(second.raw).toBe(first.raw);
    await sim("POST", "/pay", { payment: reentered.body.payment });
    await deliverWith(v3);
    expect((await orderRow(no)).status).toBe("PAID");
  });

  it("query-on-read: the callback is lost, GET /api/orders/:no asks WeChat (at most once per 5 s)", async () => {
    const { body } = await checkout();
    const no = body.order.outTradeNo;
    const paid = (await sim("POST", "/pay", { payment: body.payment, notify: "none" })).body;
    const route = "/v3/pay/transactions/out-trade-no/{out_trade_no}";
    const queries = async () => (await receivedV3(route)).filter((r) => r.path.includes(no)).length;
    const read = await apiWith(v3, "GET", `/api/orders/${no}`, { token });
    expect(read.body.order).toMatchObject({ status: "PAID", transactionId: paid.transactionId });
    expect(await appliedEvents(no)).toEqual([{ identity: `pay:${paid.transactionId}`, kind: "order_query" }]);
    expect(await queries()).toBe(1);

    const unpaid = (await checkout()).body.order.outTradeNo;
    for (let i = 0; i < 3; i++) expect((await apiWith(v3, "GET", `/api/orders/${unpaid}`, { token })).body.order.status).toBe("NOTPAY");
    expect((await receivedV3(route)).filter((r) => r.path.includes(unpaid))).toHaveLength(1);
  });

  it("cancel closes the order at WeChat (204) and locally; a paid one answers 409 ORDER_PAID and is recorded PAID", async () => {
    const open = (await checkout()).body;
    const cancelled = await apiWith(v3, "POST", `/api/orders/${open.order.outTradeNo}/cancel`, { token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.order).toMatchObject({ status: "CLOSED", api: "v3" });
    expect((await sim("GET", `/orders/${open.order.outTradeNo}`)).body.state).toBe("CLOSED");
    expect((await merchantEvents(open.order.outTradeNo)).map((e) => e.type)).toEqual(["order.closed"]);
    // Paying a closed order's parameters is refused by WeChat; asking again for them by us too.
    expect((await apiWith(v3, "POST", `/api/orders/${open.order.outTradeNo}/payment`, { token })).body.error.code).toBe("ORDER_NOT_PAYABLE");

    const paying = (await checkout()).body;
    const paid = (await sim("POST", "/pay", { payment: paying.payment, notify: "none" })).body;
    const refused = await apiWith(v3, "POST", `/api/orders/${paying.order.outTradeNo}/cancel`, { token });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("ORDER_PAID");
    expect(await orderRow(paying.order.outTradeNo)).toMatchObject({ status: "PAID", transaction_id: paid.transactionId });
  });

  it("the scheduled job pays a v3 order whose callback never came and closes an expired one at WeChat", async () => {
    const lost = (await checkout()).body;
    const paid = (await sim("POST", "/pay", { payment: lost.payment, notify: "none" })).body;
    const expired = (await checkout()).body;
    await env.DB.prepare(
      "UPDATE orders SET created_at = created_at - 600000, last_query_at = NULL, expires_at = CASE WHEN out_trade_no = ?2 THEN ?3 ELSE expires_at END WHERE out_trade_no IN (?1, ?2)",
    ).bind(lost.order.outTradeNo, expired.order.outTradeNo, Date.now() - 1000).run();
    await runCronWith(v3);
    expect(await orderRow(lost.order.outTradeNo)).toMatchObject({ status: "PAID", transaction_id: paid.transactionId });
    expect(await appliedEvents(lost.order.outTradeNo)).toEqual([{ identity: `pay:${paid.transactionId}`, kind: "reconcile" }]);
    expect((await orderRow(expired.order.outTradeNo)).status).toBe("CLOSED");
    expect((await sim("GET", `/orders/${expired.order.outTradeNo}`)).body.state).toBe("CLOSED");
    const closes = (await receivedV3("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")).filter((r) => r.path.includes(expired.order.outTradeNo));
    expect(closes).toHaveLength(1);
    expect(JSON.parse(closes[0].raw)).toEqual({ mchid: env.WECHAT_MCH_ID });
  });
});

describe("a v3 order of virtual goods ships itself when paid", () => {
  it("its logistics_type 3 shipment is uploaded with the v3 transaction_id", async () => {
    await setSimMode("publicKey");
    const v3 = v3Env("publicKey");
    const token = await loginWith(v3, "v3-reader");
    const { body } = await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3-ebook", quantity: 1 }] } });
    const paid = (await sim("POST", "/pay", { payment: body.payment })).body;
    await deliverWith(v3);
    const [shipment] = await rows<{ id: string; logistics_type: string; idempotency_key: string }>("SELECT * FROM shipments WHERE out_trade_no = ?", body.order.outTradeNo);
    expect(shipment).toMatchObject({ logistics_type: "virtual", idempotency_key: "auto" });
    // The Queue consumer uploads it, as the Queue would drive it.
    const batch = createMessageBatch<string>("merchant-events", [{ id: "v3-ship", timestamp: new Date(), attempts: 1, body: shipment!.id }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, v3, ctx);
    await waitOnExecutionContext(ctx);
    expect((await rows("SELECT status FROM shipments WHERE id = ?", shipment!.id))[0]).toEqual({ status: "UPLOADED" });
    const uploads = (await sim("GET", "/received?path=/wxa/sec/order/upload_shipping_info")).body.requests.filter(
      (r: { raw: string }) => JSON.parse(r.raw).order_key?.transaction_id === paid.transactionId,
    );
    expect(uploads).toHaveLength(1);
    expect(JSON.parse(uploads[0].raw)).toMatchObject({ logistics_type: 3, order_key: { order_number_type: 2, transaction_id: paid.transactionId } });
    expect((await sim("GET", `/shipping/${paid.transactionId}`)).body.order.shipping.logistics_type).toBe(3);
  });
});
