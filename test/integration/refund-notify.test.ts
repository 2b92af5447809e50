// POST /wechat/refund/notify: the catalogue's refund-notify rows (B34–B37), exactly-once application
// (duplicates, concurrent copies), CHANGE as a non-final state, contradictions of final states, key
// rotation and a D1 failure. req_info is encrypted here with node:crypto (aes-256-ecb, PKCS#7), an
// implementation independent of the code under test.
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { encryptReqInfo } from "../oracle";
import { ORIGIN, login, postNotify, putProduct, rows, sim, snapshot } from "./harness";
import { completeAtWechat, deliverOwn, eventsOf, orderRow, paidOrder, refundRow, requestRefund, spyWechat, wechatReply } from "./refund-harness";

const NOTIFY = "/wechat/refund/notify";
const ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

let token: string;
beforeAll(async () => {
  await putProduct("rn-item", "Refund notify item", 100);
  token = await login("refundnotify");
});
afterEach(() => vi.restoreAllMocks());

/** A PAID 100-fen order with one PROCESSING refund accepted by the simulator. */
async function processingRefund(refundFee = 100) {
  const order = await paidOrder(token, "rn-item");
  const reply = await requestRefund(order.outTradeNo, refundFee);
  expect(reply.status).toBe(201);
  const row = await refundRow(reply.body.refund.outRefundNo);
  return { order, outRefundNo: row.out_refund_no as string, refundId: row.refund_id as string, refundFee };
}

/** base64(AES-256-ECB(PKCS#7)) with key = lowercase hex MD5 of the API key, from the test oracle. */
const encrypt = (plaintext: string, apiKey = env.WECHAT_PAY_KEY) => encryptReqInfo(plaintext, apiKey);

const plaintext = (fields: Record<string, string>) =>
  `<root>\n${Object.entries(fields).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join("\n")}\n</root>`;

function refundFields(r: { order: { outTradeNo: string; transactionId: string }; outRefundNo: string; refundId: string; refundFee: number }, overrides: Record<string, string> = {}) {
  return {
    out_refund_no: r.outRefundNo,
    out_trade_no: r.order.outTradeNo,
    refund_account: "REFUND_SOURCE_UNSETTLED_FUNDS",
    refund_fee: String(r.refundFee),
    refund_id: r.refundId,
    refund_recv_accout: "支付用户零钱",
    refund_request_source: "API",
    refund_status: "SUCCESS",
    settlement_refund_fee: String(r.refundFee),
    settlement_total_fee: "100",
    success_time: "2026-11-27 13:15:00",
    total_fee: "100",
    transaction_id: r.order.transactionId,
    ...overrides,
  };
}

/** WeChat's signed refundquery answer for `r`: SUCCESS at 2026-11-27 13:15:00 Beijing (a fetch spy). */
function answerRefundQuery(r: { order: { outTradeNo: string; transactionId: string }; outRefundNo: string; refundId: string; refundFee: number }) {
  spyWechat(async (_request, path) =>
    path === "/pay/refundquery"
      ? wechatReply({
          result_code: "SUCCESS", out_trade_no: r.order.outTradeNo, transaction_id: r.order.transactionId, total_fee: "100", refund_count: "1",
          out_refund_no_0: r.outRefundNo, refund_id_0: r.refundId, refund_fee_0: String(r.refundFee), refund_status_0: "SUCCESS",
          refund_success_time_0: "2026-11-27 13:15:00",
        })
      : undefined,
  );
}

function notifyXml(reqInfo: string, outer: Record<string, string> = {}) {
  const fields = { return_code: "SUCCESS", appid: env.WECHAT_APPID, mch_id: env.WECHAT_MCH_ID, nonce_str: "f8a2c91d5b7e4f60", req_info: reqInfo, ...outer };
  return `<xml>${Object.entries(fields).map(([k, v]) => (k === "return_code" ? `<${k}>${v}</${k}>` : `<${k}><![CDATA[${v}]]></${k}>`)).join("")}</xml>`;
}

const notify = (fields: Record<string, string>, key?: string) => postNotify(NOTIFY, notifyXml(encrypt(plaintext(fields), key)));

function expectFail(reply: { status: number; text: string; headers: Headers }, status = 400) {
  expect(reply.status).toBe(status);
  expect(reply.headers.get("content-type")).toMatch(/^text\/xml/);
  expect(reply.text).toMatch(/^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[[^<]*\]\]><\/return_msg><\/xml>$/);
  expect(reply.text).not.toMatch(/Error|stack|padding|base64/);
}

async function refusedWithoutWrites(send: () => Promise<{ status: number; text: string; headers: Headers }>) {
  const before = await snapshot();
  expectFail(await send());
  expect(await snapshot()).toEqual(before);
}

describe("a genuine notification", () => {
  it("is applied once: SUCCESS, refunded_fee, one event; the same notify again → ACK without any write", async () => {
    const r = await processingRefund();
    // WeChat confirms it (refundquery) with the notification's success time.
    answerRefundQuery(r);
    const reply = await notify(refundFields(r));
    expect([reply.status, reply.text]).toEqual([200, ACK]);
    expect(await refundRow(r.outRefundNo)).toMatchObject({ status: "SUCCESS", succeeded_at: Date.UTC(2026, 10, 27, 5, 15, 0) });
    expect(await orderRow(r.order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100 });
    const after = await snapshot();
    const again = await notify(refundFields(r));
    expect([again.status, again.text]).toEqual([200, ACK]);
    expect(await snapshot()).toEqual(after);
  });

  it("the simulator's notification and 5 concurrent copies of it → all ACK, one transition, one event", async () => {
    const r = await processingRefund(40);
    const ids = await completeAtWechat(r.outRefundNo, "SUCCESS");
    const listed = await sim("GET", `/deliveries?outTradeNo=${r.order.outTradeNo}`);
    const body = listed.body.deliveries.find((d: any) => d.id === ids[0]).body as string;
    const [copies, own] = await Promise.all([
      Promise.all(Array.from({ length: 5 }, () => postNotify(NOTIFY, body))),
      deliverOwn(ids),
    ]);
    expect(copies.map((c) => [c.status, c.text])).toEqual(Array.from({ length: 5 }, () => [200, ACK]));
    expect(own.map((o) => o.acknowledged)).toEqual([true]);
    const applied = (await eventsOf(r.order.outTradeNo)).filter((e) => e.identity.endsWith(":SUCCESS"));
    expect(applied.map((e) => [e.identity, e.verdict])).toEqual([[`refund:${r.outRefundNo}:SUCCESS`, "applied"]]);
    expect(await orderRow(r.order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 40 });
  });
});

describe("B34–B37 unreadable req_info → 400, no writes", () => {
  it("B34 not base64, non-canonical base64, empty, or a length that is not a multiple of 16 bytes", async () => {
    const r = await processingRefund();
    for (const reqInfo of ["not base64 at all!", "QUJD", btoa("x".repeat(15)), btoa("x".repeat(33)), `${encrypt(plaintext(refundFields(r)))}\n`]) {
      await refusedWithoutWrites(() => postNotify(NOTIFY, notifyXml(reqInfo)));
    }
    expect((await refundRow(r.outRefundNo)).status).toBe("PROCESSING");
  });

  it("B35 encrypted with another key (bad padding) → 400", async () => {
    const r = await processingRefund();
    await refusedWithoutWrites(() => notify(refundFields(r), "0".repeat(32)));
    await refusedWithoutWrites(() => notify(refundFields(r), "AnotherMerchantKey01234567890123"));
    expect((await refundRow(r.outRefundNo)).status).toBe("PROCESSING");
  });

  it("B37 a DOCTYPE / entity in the decrypted XML → 400", async () => {
    const r = await processingRefund();
    const fields = refundFields(r);
    const evil = `<?xml version="1.0"?><!DOCTYPE root [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${plaintext({ ...fields, refund_recv_accout: "&xxe;" })}`;
    await refusedWithoutWrites(() => postNotify(NOTIFY, notifyXml(encrypt(evil))));
    await refusedWithoutWrites(() => postNotify(NOTIFY, notifyXml(encrypt(`<root><out_refund_no>${r.outRefundNo}</out_refund_no><root>x</root></root>`))));
    expect((await refundRow(r.outRefundNo)).status).toBe("PROCESSING");
  });

  it("outer envelope problems: another appid or mch_id, return_code FAIL, no req_info, hostile outer XML", async () => {
    const r = await processingRefund();
    const reqInfo = encrypt(plaintext(refundFields(r)));
    await refusedWithoutWrites(() => postNotify(NOTIFY, notifyXml(reqInfo, { appid: "wx0000000000000000" })));
    await refusedWithoutWrites(() => postNotify(NOTIFY, notifyXml(reqInfo, { mch_id: "19999999" })));
    await refusedWithoutWrites(() => postNotify(NOTIFY, notifyXml(reqInfo, { return_code: "FAIL" })));
    await refusedWithoutWrites(() => postNotify(NOTIFY, notifyXml("").replace("<req_info><![CDATA[]]></req_info>", "")));
    await refusedWithoutWrites(() => postNotify(NOTIFY, `<!DOCTYPE x [<!ENTITY e "e">]>${notifyXml(reqInfo)}`));
    await refusedWithoutWrites(() => postNotify(NOTIFY, ""));
    expect((await refundRow(r.outRefundNo)).status).toBe("PROCESSING");
  });

  it("GET and PUT → 405, no state", async () => {
    const before = await snapshot();
    for (const method of ["GET", "PUT"]) {
      const res = await app.request(`${ORIGIN}${NOTIFY}`, { method }, env);
      expect(res.status).toBe(405);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe("B36 decrypted but not matching a refund we created → 400 + anomaly, refund untouched", () => {
  async function expectAnomaly(fields: Record<string, string>, reason: string, outRefundNo: string) {
    const before = await snapshot();
    expectFail(await notify(fields));
    const after = await snapshot();
    expect(after.orders).toEqual(before.orders);
    expect(after.refunds).toEqual(before.refunds);
    expect(after.events).toHaveLength(before.events.length + 1);
    const [event] = await rows("SELECT kind, verdict, out_refund_no, detail FROM events ORDER BY id DESC LIMIT 1");
    expect(event).toMatchObject({ kind: "refund_notify", verdict: "anomaly", out_refund_no: outRefundNo });
    expect(JSON.parse(event.detail).reason).toBe(reason);
    // The same message again is refused again, without a second anomaly.
    expectFail(await notify(fields));
    expect((await snapshot()).events).toHaveLength(before.events.length + 1);
  }

  it("refund_fee ≠ our row (what a block splice of a genuine req_info produces)", async () => {
    const r = await processingRefund(60);
    await expectAnomaly(refundFields(r, { refund_fee: "100", settlement_refund_fee: "100" }), "refund_mismatch", r.outRefundNo);
    await expectAnomaly(refundFields(r, { refund_fee: "060" }), "refund_mismatch", r.outRefundNo);
    await expectAnomaly(refundFields(r, { out_trade_no: "SOMEONEELSESORDER" }), "refund_mismatch", r.outRefundNo);
    expect(await refundRow(r.outRefundNo)).toMatchObject({ status: "PROCESSING", succeeded_at: null });
    expect(await orderRow(r.order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 0 });
    const anomalies = (await eventsOf(r.order.outTradeNo)).filter((e) => e.verdict === "anomaly");
    expect(anomalies.map((e) => [e.kind, e.out_refund_no, JSON.parse(e.detail!).reason])).toEqual(
      Array.from({ length: 3 }, () => ["refund_notify", r.outRefundNo, "refund_mismatch"]),
    );
  });

});

describe("a refund we never created (made on the merchant platform) → anomaly + ACK, nothing created", () => {
  it("an out_refund_no we never created: one anomaly, ACK (a retry would tell nothing new); again → ACK, no second anomaly", async () => {
    const r = await processingRefund();
    const fields = refundFields(r, { out_refund_no: "RNEVERCREATED0001" });
    const before = await snapshot();
    const reply = await notify(fields);
    expect([reply.status, reply.text]).toEqual([200, ACK]);
    const after = await snapshot();
    expect(after.orders).toEqual(before.orders);
    expect(after.refunds).toEqual(before.refunds);
    expect(after.events).toHaveLength(before.events.length + 1);
    const [event] = await rows("SELECT kind, verdict, out_refund_no, detail FROM events ORDER BY id DESC LIMIT 1");
    expect(event).toMatchObject({ kind: "refund_notify", verdict: "anomaly", out_refund_no: "RNEVERCREATED0001" });
    expect(JSON.parse(event.detail).reason).toBe("unknown_refund");
    expect((await notify(fields)).status).toBe(200);
    expect((await snapshot()).events).toHaveLength(before.events.length + 1);
    expect((await refundRow(r.outRefundNo)).status).toBe("PROCESSING");
  });
});

describe("CHANGE and final states", () => {
  it("CHANGE is not final: the amount stays held, and a later SUCCESS is applied (simulator notifications)", async () => {
    const r = await processingRefund(100);
    expect((await deliverOwn(await completeAtWechat(r.outRefundNo, "CHANGE"))).map((o) => o.acknowledged)).toEqual([true]);
    expect(await refundRow(r.outRefundNo)).toMatchObject({ status: "CHANGE", succeeded_at: null });
    expect(await orderRow(r.order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 0 });
    expect((await requestRefund(r.order.outTradeNo, 1)).status).toBe(409);
    expect((await deliverOwn(await completeAtWechat(r.outRefundNo, "SUCCESS"))).map((o) => o.acknowledged)).toEqual([true]);
    expect(await refundRow(r.outRefundNo)).toMatchObject({ status: "SUCCESS" });
    expect(await orderRow(r.order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100 });
    expect((await eventsOf(r.order.outTradeNo)).filter((e) => e.out_refund_no).map((e) => e.identity)).toEqual([
      `refund:${r.outRefundNo}:PROCESSING`,
      `refund:${r.outRefundNo}:CHANGE`,
      `refund:${r.outRefundNo}:SUCCESS`,
    ]);
  });

  it("a report contradicting a final state → ACK, nothing moves, one anomaly", async () => {
    const r = await processingRefund(100);
    await completeAtWechat(r.outRefundNo, "SUCCESS", "none");
    expect((await notify(refundFields(r))).status).toBe(200);
    const before = await snapshot();
    for (const status of ["REFUNDCLOSE", "REFUNDCLOSE", "CHANGE"]) {
      const reply = await notify(refundFields(r, { refund_status: status }));
      expect([reply.status, reply.text]).toEqual([200, ACK]);
    }
    const after = await snapshot();
    expect(after.refunds).toEqual(before.refunds);
    expect(after.orders).toEqual(before.orders);
    const anomalies = (await eventsOf(r.order.outTradeNo)).filter((e) => e.verdict === "anomaly");
    expect(anomalies.map((e) => JSON.parse(e.detail!).reason)).toEqual(["refund_status_conflict", "refund_status_conflict"]);
  });

  it("an unknown refund_status → 400 + anomaly, refund untouched", async () => {
    const r = await processingRefund();
    expectFail(await notify(refundFields(r, { refund_status: "REVOKED" })));
    expect((await refundRow(r.outRefundNo)).status).toBe("PROCESSING");
  });
});

describe("keys and faults", () => {
  it("accepts a notification encrypted with the previous key during a key rotation", async () => {
    const r = await processingRefund();
    // The simulator signs with the old key only; WeChat, mid-rotation, answers the refundquery.
    answerRefundQuery(r);
    const rotated = { ...env, WECHAT_PAY_KEY: "N".repeat(32), WECHAT_PAY_KEY_PREVIOUS: env.WECHAT_PAY_KEY };
    const body = notifyXml(encrypt(plaintext(refundFields(r))));
    const reply = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body }, rotated);
    expect(reply.status).toBe(200);
    expect((await refundRow(r.outRefundNo)).status).toBe("SUCCESS");
  });

  it("D1 fails during the transition → 500 FAIL, nothing half-written; WeChat's retry → ACK, applied once", async () => {
    const r = await processingRefund();
    await completeAtWechat(r.outRefundNo, "SUCCESS", "none");
    const broken = new Proxy(env.DB, {
      get: (target, prop) => (prop === "batch" ? () => Promise.reject(new Error("D1_ERROR: Network connection lost")) : Reflect.get(target, prop).bind(target)),
    });
    const body = notifyXml(encrypt(plaintext(refundFields(r))));
    const first = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body }, { ...env, DB: broken });
    expect(first.status).toBe(500);
    expect(await first.text()).not.toMatch(/D1|Network|stack/);
    expect((await refundRow(r.outRefundNo)).status).toBe("PROCESSING");
    expect(await orderRow(r.order.outTradeNo)).toMatchObject({ refunded_fee: 0 });
    const retry = await postNotify(NOTIFY, body);
    expect([retry.status, retry.text]).toEqual([200, ACK]);
    expect((await eventsOf(r.order.outTradeNo)).filter((e) => e.identity.endsWith(":SUCCESS"))).toHaveLength(1);
  });
});
