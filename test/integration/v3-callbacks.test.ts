// POST /wechat/v3/pay/notify refusing what WeChat did not send, or did not send for us: every
// signature failure (probe, unsigned, stale, unknown serial, edited or re-serialised body) is a 401
// that writes nothing; a signed body our APIv3 key does not open (GCM tag, associated_data) a 400;
// signed facts that do not match the order an anomaly (200) or, for an order we do not know, a 500
// so WeChat retries. The spoiled callbacks come from the simulator (/__sim/v3/notify), the
// hand-made ones from test/oracle.ts (node:crypto), never from src/.
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putProduct, rows, sim, snapshot } from "./harness";
import {
  apiWith, craftTransactionCallback, deliverWith, freshEnv, KEYS, loginWith, paidTransaction, postV3Notify, receivedV3, setSimMode, v3Env, v3Vars,
} from "./v3-harness";

const v3 = v3Env("publicKey");
let token: string;

beforeAll(async () => {
  // The simulator is shared by every file: start from a clean one (no other file's pending notifications).
  await sim("POST", "/reset");
  await setSimMode("publicKey");
  await putProduct("v3cb-item", "Callback item", 100);
  token = await loginWith(v3, "v3-callbacks");
});
afterAll(async () => {
  await setSimMode("publicKey");
});

const newOrder = async (workerEnv = v3) => {
  const reply = await apiWith(workerEnv, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cb-item", quantity: 1 }] } });
  expect(reply.status).toBe(201);
  return reply.body.order as { outTradeNo: string; totalFee: number };
};
const anomalies = (outTradeNo: string) =>
  rows<{ kind: string; detail: string }>("SELECT kind, detail FROM events WHERE out_trade_no = ? AND verdict = 'anomaly' ORDER BY id", outTradeNo);

/** Sends a spoiled callback claiming `outTradeNo` paid, delivers it, and returns the Worker's replies. */
async function spoiled(outTradeNo: string, spoil: string, workerEnv = v3, extra: Record<string, unknown> = {}) {
  const sent = await sim("POST", "/v3/notify", { outTradeNo, spoil, ...extra });
  expect(sent.status).toBe(200);
  return deliverWith(workerEnv);
}

describe("refused before anything is written", () => {
  const cases: [spoil: string, status: number, message: string][] = [
    ["probe", 401, "signature verification failed"],
    ["unsigned", 401, "signature verification failed"],
    ["stale_timestamp", 401, "signature verification failed"],
    ["bad_sign", 401, "signature verification failed"],
    ["unknown_serial", 401, "unknown serial"],
    ["reserialized_body", 401, "signature verification failed"],
    ["tampered_body", 401, "signature verification failed"],
    ["gcm_tag", 400, "invalid request"],
    ["wrong_aad", 400, "invalid request"],
  ];
  it.each(cases)("%s → %i FAIL, the unpaid order untouched", async (spoil, status, message) => {
    const order = await newOrder();
    const before = await snapshot();
    const replies = await spoiled(order.outTradeNo, spoil);
    expect(replies.map((r) => [r.status, JSON.parse(r.body), r.acknowledged])).toEqual([[status, { code: "FAIL", message }, false]]);
    expect(await snapshot()).toEqual(before);
    expect((await rows("SELECT status FROM orders WHERE out_trade_no = ?", order.outTradeNo))[0]).toEqual({ status: "NOTPAY" });
  });

  it("a probe followed by WeChat's genuine retry: the retry is applied, once", async () => {
    const order = await newOrder();
    const payment = (await apiWith(v3, "POST", `/api/orders/${order.outTradeNo}/payment`, { token })).body.payment;
    await sim("POST", "/pay", { payment, notify: "none" });
    await sim("POST", "/v3/notify", { outTradeNo: order.outTradeNo, spoil: "probe", then: "genuine" });
    const replies = await deliverWith(v3);
    expect(replies.map((r) => r.status)).toEqual([401, 200]);
    expect(await rows("SELECT identity FROM events WHERE out_trade_no = ? AND verdict = 'applied'", order.outTradeNo)).toHaveLength(1);
  });

  it("an unknown public-key id is a configuration problem: 401, no certificate download", async () => {
    const order = await newOrder();
    const downloads = (await receivedV3("/v3/certificates")).length;
    const callback = craftTransactionCallback(paidTransaction(order), { signer: { serial: "PUB_KEY_ID_0199999999999999999999999999999999", privateKey: KEYS.wechatPayPrivateKey } });
    const reply = await postV3Notify(v3, callback);
    expect([reply.status, JSON.parse(reply.text)]).toEqual([401, { code: "FAIL", message: "unknown serial" }]);
    expect((await receivedV3("/v3/certificates")).length).toBe(downloads);
  });

  it("a body over 64 KiB → 413 before it is read; GET → 405; an unknown path → 404 (JSON FAIL, not XML)", async () => {
    const order = await newOrder();
    const big = craftTransactionCallback(paidTransaction(order, { attach: "x".repeat(70 * 1024) }));
    const tooLarge = await postV3Notify(v3, big);
    expect([tooLarge.status, JSON.parse(tooLarge.text)]).toEqual([413, { code: "FAIL", message: "payload too large" }]);
    const get = await apiWith(v3, "GET", "/wechat/v3/pay/notify");
    expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"]);
    const unknown = await postV3Notify(v3, craftTransactionCallback(paidTransaction(order)), "/wechat/v3/nope");
    expect([unknown.status, JSON.parse(unknown.text)]).toEqual([404, { code: "FAIL", message: "not found" }]);
    expect((await rows("SELECT status FROM orders WHERE out_trade_no = ?", order.outTradeNo))[0]).toEqual({ status: "NOTPAY" });
  });

  it("without a valid config → 503 FAIL, nothing read", async () => {
    const broken = freshEnv({ ...v3Vars("publicKey"), WECHAT_APIV3_KEY: "short" });
    const reply = await postV3Notify(broken, craftTransactionCallback(paidTransaction({ outTradeNo: "x".repeat(20), totalFee: 1 })));
    expect([reply.status, JSON.parse(reply.text)]).toEqual([503, { code: "FAIL", message: "service unavailable" }]);
  });
});

describe("signed, but not matching our records", () => {
  it("a wrong amount: anomaly recorded, 200 (a retry would tell nothing new), the order stays NOTPAY", async () => {
    const order = await newOrder();
    const reply = await postV3Notify(v3, craftTransactionCallback(paidTransaction(order, { amount: { total: 1, payer_total: 1, currency: "CNY" } })));
    expect([reply.status, reply.text]).toEqual([200, ""]);
    expect((await rows("SELECT status, transaction_id FROM orders WHERE out_trade_no = ?", order.outTradeNo))[0]).toEqual({ status: "NOTPAY", transaction_id: null });
    const [anomaly] = await anomalies(order.outTradeNo);
    expect(anomaly!.kind).toBe("pay_notify");
    expect(JSON.parse(anomaly!.detail)).toEqual({ reason: "amount_mismatch", expected: 100, received: 1 });
    const [event] = await rows<{ type: string }>("SELECT type FROM merchant_events WHERE out_trade_no = ?", order.outTradeNo);
    expect(event!.type).toBe("anomaly.recorded");
  });

  it("another merchant's appid or mchid: anomaly, 200, nothing applied", async () => {
    const order = await newOrder();
    const reply = await postV3Notify(v3, craftTransactionCallback(paidTransaction(order, { appid: "wx0000000000000000" })));
    expect(reply.status).toBe(200);
    expect(JSON.parse((await anomalies(order.outTradeNo))[0]!.detail)).toMatchObject({ reason: "merchant_mismatch", appid: "wx0000000000000000" });
    expect((await rows("SELECT status FROM orders WHERE out_trade_no = ?", order.outTradeNo))[0]).toEqual({ status: "NOTPAY" });
  });

  it("an order we do not know: anomaly, 500 so WeChat retries", async () => {
    const outTradeNo = `V3UNKNOWN${Date.now()}`;
    const reply = await postV3Notify(v3, craftTransactionCallback(paidTransaction({ outTradeNo, totalFee: 100 })));
    expect([reply.status, JSON.parse(reply.text)]).toEqual([500, { code: "FAIL", message: "order not found" }]);
    expect(JSON.parse((await anomalies(outTradeNo))[0]!.detail)).toEqual({ reason: "unknown_order" });
  });

  it("a hand-made genuine callback is applied like WeChat's: the amount string-exact, once per transaction_id", async () => {
    const order = await newOrder();
    const transaction = paidTransaction(order);
    const callback = craftTransactionCallback(transaction);
    expect((await postV3Notify(v3, callback)).status).toBe(200);
    expect((await postV3Notify(v3, craftTransactionCallback(transaction))).status).toBe(200);
    const [row] = await rows<{ status: string; transaction_id: string; paid_at: number }>("SELECT * FROM orders WHERE out_trade_no = ?", order.outTradeNo);
    expect(row).toMatchObject({ status: "PAID", transaction_id: transaction.transaction_id, paid_at: Date.parse("2026-12-03T02:00:00Z") });
    expect(await rows("SELECT identity FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ identity: `pay:${transaction.transaction_id}` }]);
    // A second transaction for the paid order is money we did not expect: an anomaly, never a second payment.
    const second = paidTransaction(order);
    expect((await postV3Notify(v3, craftTransactionCallback(second))).status).toBe(200);
    expect(JSON.parse((await anomalies(order.outTradeNo))[0]!.detail)).toMatchObject({ reason: "unexpected_payment" });
  });

  it("other event types are acknowledged and change nothing", async () => {
    const order = await newOrder();
    const before = await snapshot();
    const reply = await postV3Notify(v3, craftTransactionCallback(paidTransaction(order), { eventType: "TRANSACTION.FAIL" }));
    expect([reply.status, reply.text]).toEqual([200, ""]);
    expect(await snapshot()).toEqual(before);
  });
});

describe("unknown serials in certificate mode", () => {
  it("one certificate download for the unknown hex serial, then 401; the real certificate verifies", async () => {
    await setSimMode("certificate");
    const certEnv = v3Env("certificate");
    const before = (await receivedV3("/v3/certificates")).length;
    const order = await newOrder(certEnv); // its prepay reply names a serial not yet known: one download, cached in KV
    const downloads = (await receivedV3("/v3/certificates")).length;
    expect(downloads).toBe(before + 1);
    const cached = await env.NOTIFY_KV.get<{ certificates: { serialNo: string }[] }>(`wx:v3:platform_certs:${env.WECHAT_MCH_ID}`, "json");
    expect(cached?.certificates.map((c) => c.serialNo)).toEqual([KEYS.platformSerial]);
    const replies = await spoiled(order.outTradeNo, "unknown_serial", certEnv);
    expect(replies.map((r) => r.status)).toEqual([401]);
    // Within 60 s of the first download: the refresh is throttled, so WeChat's /v3/certificates is not hammered.
    expect((await receivedV3("/v3/certificates")).length).toBe(downloads);
    const { payment } = (await apiWith(certEnv, "POST", `/api/orders/${order.outTradeNo}/payment`, { token })).body;
    await sim("POST", "/pay", { payment });
    expect((await deliverWith(certEnv)).map((r) => [r.status, r.serial])).toEqual([[200, KEYS.platformSerial]]);
    await setSimMode("publicKey");
  });
});
