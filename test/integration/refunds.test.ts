// POST /admin/orders/:outTradeNo/refunds against the simulator: full and partial refunds finished by
// the refund notification, the refundable remainder checked in one statement (F11: 60 + 60 at once on
// a 100-fen order), the row committed before WeChat is called, closed refunds releasing their amount,
// definitive refusals and transient failures of the refund API, and B33 through the real refund path.
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { admin, api, login, payInWechat, postNotify, putProduct, rows, sim } from "./harness";
import {
  completeAtWechat, deliverOwn, eventsOf, newOrder, orderRow, paidOrder, received, refundRow, requestRefund, spyWechat,
  wechatReply, xmlField,
} from "./refund-harness";

const ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

let token: string;
beforeAll(async () => {
  await putProduct("refund-item", "Refund test item", 100);
  await putProduct("refund-cheap", "Refund cheap item", 1);
  token = await login("refunds");
});
afterEach(() => vi.restoreAllMocks());

describe("a full refund", () => {
  it("PROCESSING at once, then the refund notify makes the order REFUNDED with refundedFee = total", async () => {
    const order = await paidOrder(token, "refund-item");
    const reply = await requestRefund(order.outTradeNo, 100, "damaged in transit");
    expect(reply.status).toBe(201);
    const refund = reply.body.refund;
    expect(Object.keys(refund).sort()).toEqual(["createdAt", "outRefundNo", "outTradeNo", "reason", "refundFee", "status", "succeededAt"]);
    expect(refund).toMatchObject({ outTradeNo: order.outTradeNo, refundFee: 100, status: "PROCESSING", reason: "damaged in transit", succeededAt: null });
    expect(refund.outRefundNo).toMatch(/^R\d{14}[0-9A-Za-z]{12}$/);
    expect(new Date(refund.createdAt).toISOString()).toBe(refund.createdAt);

    // What WeChat was asked: the original total, this refund, the same out_refund_no, our notify URL.
    const [request] = await received("/secapi/pay/refund", "out_refund_no", refund.outRefundNo);
    expect(request!.fields).toMatchObject({
      out_trade_no: order.outTradeNo,
      out_refund_no: refund.outRefundNo,
      total_fee: "100",
      refund_fee: "100",
      refund_desc: "damaged in transit",
      notify_url: "https://shop.example/wechat/refund/notify",
    });
    const accepted = await refundRow(refund.outRefundNo);
    expect(accepted).toMatchObject({ status: "PROCESSING", refund_fee: 100 });
    expect(accepted.refund_id).toMatch(/^503\d{26}$/);
    expect((await orderRow(order.outTradeNo)).status).toBe("PAID");

    const outcomes = await deliverOwn(await completeAtWechat(refund.outRefundNo, "SUCCESS"));
    expect(outcomes.map((o) => [o.kind, o.status, o.reply, o.acknowledged])).toEqual([["refund", 200, ACK, true]]);

    const done = await refundRow(refund.outRefundNo);
    expect(done.status).toBe("SUCCESS");
    expect(done.succeeded_at).toBeGreaterThan(0);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100, total_fee: 100 });
    expect((await eventsOf(order.outTradeNo)).filter((e) => e.out_refund_no).map((e) => [e.identity, e.kind, e.verdict])).toEqual([
      [`refund:${refund.outRefundNo}:PROCESSING`, "admin_refund", "applied"],
      [`refund:${refund.outRefundNo}:SUCCESS`, "refund_notify", "applied"],
    ]);

    const detail = await admin("GET", `/orders/${order.outTradeNo}`);
    expect(detail.body.order).toMatchObject({ status: "REFUNDED", refundedFee: 100 });
    expect(detail.body.refunds).toEqual([{ ...refund, status: "SUCCESS", succeededAt: new Date(done.succeeded_at).toISOString() }]);
    // Nothing is left to refund.
    const again = await requestRefund(order.outTradeNo, 1);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("NOT_REFUNDABLE");
  });
});

describe("partial refunds", () => {
  it("keep the order PAID with refundedFee; refunds in flight count against the remainder", async () => {
    const order = await paidOrder(token, "refund-item");
    const a = await requestRefund(order.outTradeNo, 30);
    const b = await requestRefund(order.outTradeNo, 20, "");
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.body.refund.reason).toBeNull();
    // 50 fen are in flight: 51 no longer fits, even before any refund succeeded.
    const tooMuch = await requestRefund(order.outTradeNo, 51);
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error).toMatchObject({ code: "NOT_REFUNDABLE", refundableFee: "50" });
    expect(tooMuch.body.error.message).toContain("50 fen");

    await deliverOwn([
      ...(await completeAtWechat(a.body.refund.outRefundNo, "SUCCESS")),
      ...(await completeAtWechat(b.body.refund.outRefundNo, "SUCCESS")),
    ]);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 50 });
    const view = await api("GET", `/api/orders/${order.outTradeNo}`, { token });
    expect(view.body.order).toMatchObject({ status: "PAID", refundedFee: 50 });

    const rest = await requestRefund(order.outTradeNo, 50);
    expect(rest.status).toBe(201);
    await deliverOwn(await completeAtWechat(rest.body.refund.outRefundNo, "SUCCESS"));
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100 });
  });
});

describe("F11 concurrent refunds", () => {
  it("60 + 60 at once on a 100-fen order: exactly one 201, the other 409; each row committed before WeChat is called", async () => {
    const order = await paidOrder(token, "refund-item");
    const seenAtCall: { outRefundNo: string; row: unknown }[] = [];
    spyWechat(async (request, path) => {
      if (path === "/secapi/pay/refund") {
        const outRefundNo = xmlField(await request.text(), "out_refund_no")!;
        seenAtCall.push({ outRefundNo, row: (await rows("SELECT status, refund_fee FROM refunds WHERE out_refund_no = ?", outRefundNo))[0] });
      }
      return undefined;
    });
    const replies = await Promise.all([requestRefund(order.outTradeNo, 60), requestRefund(order.outTradeNo, 60)]);
    expect(replies.map((r) => r.status).sort()).toEqual([201, 409]);
    const loser = replies.find((r) => r.status === 409)!;
    expect(loser.body.error.code).toBe("NOT_REFUNDABLE");
    const winner = replies.find((r) => r.status === 201)!.body.refund;

    const refunds = await rows("SELECT out_refund_no, refund_fee, status FROM refunds WHERE out_trade_no = ?", order.outTradeNo);
    expect(refunds).toEqual([{ out_refund_no: winner.outRefundNo, refund_fee: 60, status: "PROCESSING" }]);
    expect(seenAtCall).toEqual([{ outRefundNo: winner.outRefundNo, row: { status: "PROCESSING", refund_fee: 60 } }]);
    expect(await received("/secapi/pay/refund", "out_trade_no", order.outTradeNo)).toHaveLength(1);
    const atWechat = await sim("GET", `/orders/${order.outTradeNo}`);
    expect(atWechat.body.refundedFee).toBe(60);
  });

  it("ten 20-fen refunds at once on a 100-fen order: exactly five succeed, never more than 100 fen held", async () => {
    const order = await paidOrder(token, "refund-item");
    const replies = await Promise.all(Array.from({ length: 10 }, () => requestRefund(order.outTradeNo, 20)));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(5);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(5);
    const [held] = await rows<{ total: number }>("SELECT SUM(refund_fee) AS total FROM refunds WHERE out_trade_no = ?", order.outTradeNo);
    expect(held!.total).toBe(100);
  });
});

describe("validation", () => {
  it("refundFee must be an integer ≥ 1 and reason a string of at most 80 characters → 400 naming the field", async () => {
    const order = await paidOrder(token, "refund-item");
    for (const refundFee of [0, -1, 1.5, "10", null, 1e300, undefined]) {
      const reply = await admin("POST", `/orders/${order.outTradeNo}/refunds`, refundFee === undefined ? {} : { refundFee });
      expect(reply.status, String(refundFee)).toBe(400);
      expect(reply.body.error.message).toContain("refundFee");
    }
    for (const reason of ["x".repeat(81), 42, ["a"], "line\nbreak", "nul\u0000", "bell\u0007"]) {
      const reply = await requestRefund(order.outTradeNo, 1, reason);
      expect(reply.status).toBe(400);
      expect(reply.body.error.message).toContain("reason");
    }
    // 80 characters are fine even where they are 240 UTF-8 bytes; WeChat gets them cut to 80 bytes.
    const long = "退".repeat(80);
    const ok = await requestRefund(order.outTradeNo, 1, long);
    expect(ok.status).toBe(201);
    expect(ok.body.refund.reason).toBe(long);
    const [request] = await received("/secapi/pay/refund", "out_refund_no", ok.body.refund.outRefundNo);
    expect(request!.fields!.refund_desc).toBe("退".repeat(26));
    expect(await rows("SELECT out_refund_no FROM refunds WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(1);
  });

  it("unknown order → 404; an unpaid or closed order → 409 NOT_REFUNDABLE, no refund row, no WeChat call", async () => {
    expect((await requestRefund("NOSUCHORDER", 1)).status).toBe(404);
    expect((await requestRefund("bad order no!", 1)).status).toBe(404);
    const { order } = await newOrder(token, "refund-item");
    const { paths } = spyWechat();
    const reply = await requestRefund(order.outTradeNo, 1);
    expect(reply.status).toBe(409);
    expect(reply.body.error).toMatchObject({ code: "NOT_REFUNDABLE" });
    expect(reply.body.error.message).toContain("NOTPAY");
    expect(paths).toEqual([]);
    expect(await rows("SELECT * FROM refunds WHERE out_trade_no = ?", order.outTradeNo)).toEqual([]);
  });

  it("an order has at most 50 refunds (closed ones count) → 409", async () => {
    const order = await paidOrder(token, "refund-item");
    const statements = Array.from({ length: 50 }, (_, i) =>
      env.DB.prepare(
        "INSERT INTO refunds (out_refund_no, out_trade_no, refund_fee, status, created_at, updated_at) VALUES (?, ?, 1, 'REFUNDCLOSE', 0, 0)",
      ).bind(`RCAP${i}${order.outTradeNo}`.slice(0, 64), order.outTradeNo),
    );
    await env.DB.batch(statements);
    const reply = await requestRefund(order.outTradeNo, 1);
    expect(reply.status).toBe(409);
    expect(reply.body.error.message).toContain("50 refunds");
  });
});

describe("REFUNDCLOSE", () => {
  it("a refund that WeChat closes releases its amount: the order can be refunded again", async () => {
    const order = await paidOrder(token, "refund-item");
    const first = (await requestRefund(order.outTradeNo, 100)).body.refund;
    expect((await requestRefund(order.outTradeNo, 1)).status).toBe(409);
    const outcomes = await deliverOwn(await completeAtWechat(first.outRefundNo, "REFUNDCLOSE"));
    expect(outcomes.map((o) => o.acknowledged)).toEqual([true]);
    expect(await refundRow(first.outRefundNo)).toMatchObject({ status: "REFUNDCLOSE", succeeded_at: null });
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 0 });
    const second = await requestRefund(order.outTradeNo, 100);
    expect(second.status).toBe(201);
    await deliverOwn(await completeAtWechat(second.body.refund.outRefundNo, "SUCCESS"));
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100 });
  });
});

describe("refund API failures", () => {
  it("a definitive refusal (NOTENOUGH) → 502 UPSTREAM_ERROR naming errCode; the refund is REFUNDCLOSE and the amount released", async () => {
    const order = await paidOrder(token, "refund-item");
    spyWechat(async (_request, path) =>
      path === "/secapi/pay/refund"
        ? wechatReply({ result_code: "FAIL", err_code: "NOTENOUGH", err_code_des: "基本账户余额不足，请充值后重新发起" })
        : undefined,
    );
    const reply = await requestRefund(order.outTradeNo, 100);
    expect(reply.status).toBe(502);
    expect(reply.body.error).toMatchObject({ code: "UPSTREAM_ERROR", errCode: "NOTENOUGH" });
    const outRefundNo = reply.body.error.outRefundNo;
    expect(await refundRow(outRefundNo)).toMatchObject({ status: "REFUNDCLOSE", refund_id: null });
    const events = (await eventsOf(order.outTradeNo)).filter((e) => e.out_refund_no === outRefundNo);
    expect(events.map((e) => [e.identity, e.kind, e.verdict])).toEqual([
      [`refund:${outRefundNo}:PROCESSING`, "admin_refund", "applied"],
      [`refund:${outRefundNo}:REFUNDCLOSE`, "refund_api", "applied"],
    ]);
    expect(JSON.parse(events[1]!.detail!)).toMatchObject({ err_code: "NOTENOUGH" });
    vi.restoreAllMocks();
    expect((await requestRefund(order.outTradeNo, 100)).status).toBe(201);
  });

  it("a refusal showing WeChat disagrees with us (REFUND_FEE_MISMATCH) also records an anomaly", async () => {
    const order = await paidOrder(token, "refund-item");
    spyWechat(async (_request, path) =>
      path === "/secapi/pay/refund" ? wechatReply({ result_code: "FAIL", err_code: "REFUND_FEE_MISMATCH", err_code_des: "订单金额或退款金额与之前请求不一致，请核实后再试" }) : undefined,
    );
    const reply = await requestRefund(order.outTradeNo, 10);
    expect(reply.status).toBe(502);
    const verdicts = (await eventsOf(order.outTradeNo)).map((e) => [e.kind, e.verdict]);
    expect(verdicts).toContainEqual(["refund_api", "anomaly"]);
    expect(await refundRow(reply.body.error.outRefundNo)).toMatchObject({ status: "REFUNDCLOSE" });
  });

  it("an unknown err_code is not taken as a refusal: 201 PROCESSING, the amount stays held, an anomaly for a human", async () => {
    const order = await paidOrder(token, "refund-item");
    spyWechat(async (_request, path) =>
      path === "/secapi/pay/refund" ? wechatReply({ result_code: "FAIL", err_code: "SOMETHING_NEW", err_code_des: "未知错误" }) : undefined,
    );
    const reply = await requestRefund(order.outTradeNo, 60);
    expect(reply.status).toBe(201);
    const outRefundNo = reply.body.refund.outRefundNo;
    expect(await refundRow(outRefundNo)).toMatchObject({ status: "PROCESSING", refund_id: null });
    const anomalies = (await eventsOf(order.outTradeNo)).filter((e) => e.verdict === "anomaly");
    expect(anomalies.map((e) => JSON.parse(e.detail!).reason)).toEqual(["refund_unknown_error"]);
    vi.restoreAllMocks();
    expect((await requestRefund(order.outTradeNo, 41)).status).toBe(409); // 60 still held of 100
  });

  for (const [name, answer] of [
    ["a network failure", async () => { throw new TypeError("Network connection lost"); }],
    ["SYSTEMERROR", async () => wechatReply({ result_code: "FAIL", err_code: "SYSTEMERROR", err_code_des: "系统超时" })],
    ["BIZERR_NEED_RETRY", async () => wechatReply({ result_code: "FAIL", err_code: "BIZERR_NEED_RETRY", err_code_des: "并发情况下，业务被拒绝，商户重试即可解决" })],
    ["an unsigned envelope error", async () => new Response("<xml><return_code>FAIL</return_code><return_msg>系统繁忙</return_msg></xml>")],
    ["a reply with a bad signature", async () => {
      const text = await wechatReply({ result_code: "SUCCESS", refund_id: "50300000000000000000000000000" }).text();
      return new Response(text.replace(/<sign><!\[CDATA\[(.)/, (_m, c: string) => `<sign><![CDATA[${c === "0" ? "1" : "0"}`));
    }],
  ] as const) {
    it(`${name} → 201 PROCESSING: the row stays PROCESSING without refund_id, its amount held`, async () => {
      const order = await paidOrder(token, "refund-item");
      spyWechat(async (_request, path) => (path === "/secapi/pay/refund" ? answer() : undefined));
      const reply = await requestRefund(order.outTradeNo, 70);
      expect(reply.status).toBe(201);
      expect(reply.body.refund.status).toBe("PROCESSING");
      expect(await refundRow(reply.body.refund.outRefundNo)).toMatchObject({ status: "PROCESSING", refund_id: null });
      vi.restoreAllMocks();
      expect((await requestRefund(order.outTradeNo, 31)).status).toBe(409);
    });
  }
});

describe("Idempotency-Key", () => {
  const refundWithKey = (outTradeNo: string, refundFee: number, key: string) =>
    api("POST", `/admin/orders/${outTradeNo}/refunds`, { token: env.ADMIN_TOKEN, body: { refundFee }, headers: { "Idempotency-Key": key } });

  it("a retried refund request returns the refund it created instead of refunding again", async () => {
    const order = await paidOrder(token, "refund-item");
    const key = crypto.randomUUID();
    const first = await refundWithKey(order.outTradeNo, 30, key);
    const again = await refundWithKey(order.outTradeNo, 30, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.refund.outRefundNo).toBe(first.body.refund.outRefundNo);
    expect(await rows("SELECT out_refund_no FROM refunds WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(1);
    // The same key with another amount is a different request: refused, nothing created.
    const changed = await refundWithKey(order.outTradeNo, 40, key);
    expect(changed.status).toBe(422);
    expect(changed.body.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await rows("SELECT out_refund_no FROM refunds WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(1);
  });

  it("concurrent requests with one key create one refund", async () => {
    const order = await paidOrder(token, "refund-item");
    const key = crypto.randomUUID();
    const replies = await Promise.all([0, 1, 2, 3].map(() => refundWithKey(order.outTradeNo, 25, key)));
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(replies.map((r) => r.body.refund.outRefundNo)).size).toBe(1);
    expect(await rows("SELECT out_refund_no FROM refunds WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(1);
  });

  it("a malformed key → 400", async () => {
    const order = await paidOrder(token, "refund-item");
    expect((await refundWithKey(order.outTradeNo, 10, "bad key with spaces")).status).toBe(400);
  });
});

describe("B33 through the real refund path", () => {
  it("replaying the original PAID notify after the order was REFUNDED → ACK, stays REFUNDED, no new event", async () => {
    const { order, payment } = await newOrder(token, "refund-item");
    const paid = await payInWechat(payment);
    const [payDelivery] = await deliverOwn(paid.deliveryIds);
    expect(payDelivery!.acknowledged).toBe(true);
    const refund = (await requestRefund(order.outTradeNo, 100)).body.refund;
    await deliverOwn(await completeAtWechat(refund.outRefundNo, "SUCCESS"));
    expect((await orderRow(order.outTradeNo)).status).toBe("REFUNDED");
    const events = await eventsOf(order.outTradeNo);

    // With the KV hint (fast path) and without it (the D1 transition guard).
    const replay = await postNotify("/wechat/pay/notify", payDelivery!.body);
    expect([replay.status, replay.text]).toEqual([200, ACK]);
    await env.NOTIFY_KV.delete(`paid:${paid.transactionId}`);
    const replay2 = await postNotify("/wechat/pay/notify", payDelivery!.body);
    expect([replay2.status, replay2.text]).toEqual([200, ACK]);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100, transaction_id: paid.transactionId });
    expect(await eventsOf(order.outTradeNo)).toEqual(events);
  });
});

describe("admin auth", () => {
  it("a user token cannot refund → 401, nothing written", async () => {
    const order = await paidOrder(token, "refund-cheap");
    const reply = await api("POST", `/admin/orders/${order.outTradeNo}/refunds`, { token, body: { refundFee: 1 } });
    expect(reply.status).toBe(401);
    expect(await rows("SELECT * FROM refunds WHERE out_trade_no = ?", order.outTradeNo)).toEqual([]);
  });
});
