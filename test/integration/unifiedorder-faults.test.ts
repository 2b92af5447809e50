// What POST /api/orders and POST /api/orders/:id/payment do when unifiedorder misbehaves (F07–F09):
// the order is always committed first and stays NOTPAY and payable; a bad reply is never used; a
// retry re-enters with identical parameters and the same out_trade_no.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, createOrder, deliverNotifications, login, payInWechat, putProduct, rows, sim } from "./harness";

let token: string;
beforeAll(async () => {
  await putProduct("uo-item", "Unifiedorder fault item", 250);
  token = await login("uofault");
});

const fault = (name: string, times = 1, extra: Record<string, string> = {}) =>
  sim("POST", "/faults", { path: "/pay/unifiedorder", fault: name, times, ...extra });

async function unifiedOrderCalls(outTradeNo: string) {
  const { body } = await sim("GET", "/received?path=/pay/unifiedorder");
  return body.requests.filter((r: any) => r.fields?.out_trade_no === outTradeNo);
}

/** Fields of a unifiedorder request that must not change between retries (all but nonce and sign). */
const stable = (fields: Record<string, string>) => {
  const { nonce_str, sign, ...rest } = fields;
  return rest;
};

async function expectPayableAfterFailure(reply: { status: number; body: any }, status: number) {
  expect(reply.status).toBe(status);
  expect(reply.body.error.code).toBe("UPSTREAM_ERROR");
  const outTradeNo = reply.body.error.outTradeNo;
  expect(outTradeNo).toMatch(/^[0-9A-Za-z_-]{1,32}$/);
  const [row] = await rows("SELECT status, prepay_id FROM orders WHERE out_trade_no = ?", outTradeNo);
  expect(row).toEqual({ status: "NOTPAY", prepay_id: null });
  // The retry re-enters with identical parameters and the same out_trade_no, and gets one prepay_id.
  const retry = await api("POST", `/api/orders/${outTradeNo}/payment`, { token });
  expect(retry.status).toBe(200);
  const calls = await unifiedOrderCalls(outTradeNo);
  expect(calls.length).toBeGreaterThanOrEqual(2);
  for (const call of calls) expect(stable(call.fields)).toEqual(stable(calls[0].fields));
  const [after] = await rows("SELECT status, prepay_id FROM orders WHERE out_trade_no = ?", outTradeNo);
  expect(after.status).toBe("NOTPAY");
  expect(retry.body.payment.package).toBe(`prepay_id=${after.prepay_id}`);
  return outTradeNo;
}

describe("F07 timeout", () => {
  it("unifiedorder that never answers → 504 UPSTREAM_ERROR, order NOTPAY, the retry gets a prepay_id", async () => {
    await fault("timeout");
    const reply = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
    await expectPayableAfterFailure(reply, 504);
  }, 20_000);
});

describe("F08 broken replies", () => {
  for (const name of ["http500", "html", "empty", "truncated", "doctype"]) {
    it(`${name} → 502, no prepay_id stored, payable later`, async () => {
      await fault(name);
      const reply = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
      await expectPayableAfterFailure(reply, 502);
    });
  }
});

describe("F09 refused or forged replies", () => {
  it("a reply with a bad signature → 502 and its prepay_id is never used", async () => {
    await fault("bad_sign");
    const reply = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
    const outTradeNo = await expectPayableAfterFailure(reply, 502);
    const simOrder = (await sim("GET", `/orders/${outTradeNo}`)).body;
    // The forged reply's prepay_id was processed at the simulator but never stored by us before the retry.
    expect(simOrder.prepayId).toBeTruthy();
  });

  it("return_code=FAIL (unsigned) → 502", async () => {
    await fault("return_fail");
    const reply = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
    await expectPayableAfterFailure(reply, 502);
  });

  it("SYSTEMERROR → retried once with identical parameters, transparently", async () => {
    await fault("systemerror");
    const reply = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
    expect(reply.status).toBe(201);
    const calls = await unifiedOrderCalls(reply.body.order.outTradeNo);
    expect(calls).toHaveLength(2);
    expect(stable(calls[1].fields)).toEqual(stable(calls[0].fields));
  });

  it("ORDERPAID on re-entry → orderquery confirms and the order becomes PAID; 409 ORDER_NOT_PAYABLE", async () => {
    const { body } = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
    await payInWechat(body.payment, { notify: "none" });
    // Make our prepay_id look stale so /payment re-enters unifiedorder, which answers ORDERPAID.
    await env.DB.prepare("UPDATE orders SET prepay_at = 0 WHERE out_trade_no = ?").bind(body.order.outTradeNo).run();
    const again = await api("POST", `/api/orders/${body.order.outTradeNo}/payment`, { token });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("ORDER_NOT_PAYABLE");
    const [row] = await rows("SELECT status, transaction_id FROM orders WHERE out_trade_no = ?", body.order.outTradeNo);
    expect(row.status).toBe("PAID");
    expect(await rows("SELECT kind FROM events WHERE out_trade_no = ? AND verdict = 'applied'", body.order.outTradeNo)).toEqual([{ kind: "order_query" }]);
    await deliverNotifications(); // nothing pending, but harmless
  });

  it("OUT_TRADE_NO_USED → 409 and an anomaly for a human", async () => {
    const { body } = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
    await env.DB.prepare("UPDATE orders SET prepay_at = 0 WHERE out_trade_no = ?").bind(body.order.outTradeNo).run();
    await fault("business", 1, { errCode: "OUT_TRADE_NO_USED", errCodeDes: "商户订单号重复" });
    const again = await api("POST", `/api/orders/${body.order.outTradeNo}/payment`, { token });
    expect(again.status).toBe(409);
    const events = await rows("SELECT verdict, detail FROM events WHERE out_trade_no = ?", body.order.outTradeNo);
    expect(events.map((e) => [e.verdict, JSON.parse(e.detail).reason])).toEqual([["anomaly", "out_trade_no_used"]]);
  });

  it("ORDERCLOSED on re-entry → the order becomes CLOSED; 409", async () => {
    const { body } = await createOrder(token, [{ sku: "uo-item", quantity: 1 }]);
    await env.DB.prepare("UPDATE orders SET prepay_at = 0 WHERE out_trade_no = ?").bind(body.order.outTradeNo).run();
    await fault("business", 1, { errCode: "ORDERCLOSED", errCodeDes: "订单已关闭" });
    const again = await api("POST", `/api/orders/${body.order.outTradeNo}/payment`, { token });
    expect(again.status).toBe(409);
    expect((await rows("SELECT status FROM orders WHERE out_trade_no = ?", body.order.outTradeNo))[0].status).toBe("CLOSED");
  });
});
