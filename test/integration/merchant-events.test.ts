// Merchant events: the transactional outbox (an event iff its change committed, one per fact), the
// Queue (sent after commit; a failed send() is re-sent by the cron), the consumer (signed deliveries
// the example receiver verifies with `standardwebhooks`; retries with backoff, 410, timeouts, network
// errors; every attempt recorded), and the admin API. In these tests the producer writes to a Queue
// without a consumer (vitest.config.ts) and each test drives the consumer itself with
// createMessageBatch, so no delivery happens behind a test's back; `npm run demo`/the e2e test run the
// real Queue end to end under wrangler dev.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { loadConfig } from "../../src/config";
import worker from "../../src/index";
import { deliverMerchantEvent } from "../../src/webhooks/deliver";
import { ORIGIN, admin, api, login, payNotifyFields, postNotify, putProduct, rows, signedNotifyXml } from "./harness";
import { completeAtWechat, deliverOwn, newOrder, orderRow, paidOrder, requestRefund, runCron } from "./refund-harness";

interface Delivery {
  id: string | null;
  type: string | null;
  verified: boolean;
  duplicate: boolean;
  status: number;
}

let token: string;
beforeAll(async () => {
  await putProduct("evt-item", "Event item", 100);
  token = await login("merchantevents");
});
beforeEach(async () => {
  await receiver("POST", "/reset");
});
afterEach(() => vi.restoreAllMocks());

async function receiver<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await env.RECEIVER.fetch(`http://receiver.control${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as T;
}

const merchantEvents = (outTradeNo: string) =>
  rows<{ id: string; type: string; status: string; attempts: number; next_attempt_at: number; snapshot: string; last_status: number | null }>(
    "SELECT * FROM merchant_events WHERE out_trade_no = ? ORDER BY seq",
    outTradeNo,
  );
const eventRow = async (id: string) => (await rows("SELECT * FROM merchant_events WHERE id = ?", id))[0];
const attemptsOf = (id: string) => rows("SELECT * FROM merchant_event_attempts WHERE event_id = ? ORDER BY id", id);

/** Runs the Worker's Queue consumer on these event ids, as the Queue would; returns the ack/retry result. */
async function consume(ids: string[], attempts = 1) {
  const batch = createMessageBatch<string>(
    "merchant-events",
    ids.map((id, i) => ({ id: `msg-${Date.now()}-${i}`, timestamp: new Date(), attempts, body: id })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return { result: await getQueueResult(batch, ctx), messageIds: batch.messages.map((m) => m.id) };
}

/** Makes a pending event due now (as if its backoff delay had passed). */
const makeDue = (id: string) => env.DB.prepare("UPDATE merchant_events SET next_attempt_at = ? WHERE id = ?").bind(Date.now() - 1, id).run();

/** A paid order through a genuine notify; returns the order number and its order.paid event id. */
async function paidByNotify() {
  const { order } = await newOrder(token, "evt-item");
  const fields = payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 });
  const reply = await postNotify("/wechat/pay/notify", signedNotifyXml(fields));
  expect(reply.status).toBe(200);
  const [paid] = await merchantEvents(order.outTradeNo);
  expect(paid).toMatchObject({ type: "order.paid", status: "pending", attempts: 0 });
  return { outTradeNo: order.outTradeNo, fields, eventId: paid!.id };
}

describe("the outbox: an event exists if and only if its change committed", () => {
  it("a payment writes exactly one order.paid with the order as it was paid", async () => {
    const { outTradeNo, fields, eventId } = await paidByNotify();
    expect(eventId).toMatch(/^evt_[0-9a-f]{24}$/);
    const detail = await admin("GET", `/webhooks/events/${eventId}`);
    expect(detail.status).toBe(200);
    expect(detail.body.event.payload).toEqual({
      id: eventId,
      type: "order.paid",
      createdAt: expect.stringMatching(/Z$/),
      data: { order: (await api("GET", `/api/orders/${outTradeNo}`, { token })).body.order },
    });
    expect(detail.body.event.payload.data.order).toMatchObject({ status: "PAID", transactionId: fields.transaction_id, totalFee: 100 });
  });

  it("the batch fails → neither the payment nor its event; WeChat's retry → both, once", async () => {
    const { order } = await newOrder(token, "evt-item");
    const body = signedNotifyXml(payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 }));
    const broken = new Proxy(env.DB, {
      get: (target, prop) => (prop === "batch" ? () => Promise.reject(new Error("D1_ERROR: Network connection lost")) : Reflect.get(target, prop).bind(target)),
    });
    const first = await app.request(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body }, { ...env, DB: broken });
    expect(first.status).toBe(500);
    expect((await orderRow(order.outTradeNo)).status).toBe("NOTPAY");
    expect(await merchantEvents(order.outTradeNo)).toEqual([]);
    expect((await postNotify("/wechat/pay/notify", body)).status).toBe(200);
    expect((await merchantEvents(order.outTradeNo)).map((e) => e.type)).toEqual(["order.paid"]);
  });

  it("10 concurrent copies of the notify, then query-on-read and the cron: one order.paid", async () => {
    const { order } = await newOrder(token, "evt-item");
    const body = signedNotifyXml(payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 }));
    const replies = await Promise.all(Array.from({ length: 10 }, () => postNotify("/wechat/pay/notify", body)));
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 200));
    await api("GET", `/api/orders/${order.outTradeNo}`, { token });
    await runCron();
    expect((await merchantEvents(order.outTradeNo)).map((e) => e.type)).toEqual(["order.paid"]);
  });

  it("refund → refund.succeeded then order.refunded; a closed order → order.closed; an anomaly → anomaly.recorded", async () => {
    const order = await paidOrder(token, "evt-item");
    const refund = (await requestRefund(order.outTradeNo, 100)).body.refund;
    await deliverOwn(await completeAtWechat(refund.outRefundNo, "SUCCESS"));
    const types = (await merchantEvents(order.outTradeNo)).map((e) => e.type);
    expect(types).toEqual(["order.paid", "refund.succeeded", "order.refunded"]);
    const [, succeeded] = await merchantEvents(order.outTradeNo);
    const payload = (await admin("GET", `/webhooks/events/${succeeded!.id}`)).body.event.payload;
    expect(payload.data.refund).toMatchObject({ outRefundNo: refund.outRefundNo, refundFee: 100, status: "SUCCESS" });
    expect(payload.data.order).toMatchObject({ status: "REFUNDED", refundedFee: 100 });

    const closedRefund = await paidOrder(token, "evt-item");
    const doomed = (await requestRefund(closedRefund.outTradeNo, 50)).body.refund;
    await deliverOwn(await completeAtWechat(doomed.outRefundNo, "REFUNDCLOSE"));
    expect((await merchantEvents(closedRefund.outTradeNo)).map((e) => e.type)).toEqual(["order.paid", "refund.closed"]);

    const { order: open } = await newOrder(token, "evt-item");
    expect((await api("POST", `/api/orders/${open.outTradeNo}/cancel`, { token })).status).toBe(200);
    expect((await merchantEvents(open.outTradeNo)).map((e) => e.type)).toEqual(["order.closed"]);

    const { order: short } = await newOrder(token, "evt-item");
    await postNotify("/wechat/pay/notify", signedNotifyXml(payNotifyFields({ outTradeNo: short.outTradeNo, totalFee: 1 })));
    const [anomaly] = await merchantEvents(short.outTradeNo);
    expect(anomaly!.type).toBe("anomaly.recorded");
    const data = (await admin("GET", `/webhooks/events/${anomaly!.id}`)).body.event.payload.data;
    expect(data.anomaly).toMatchObject({ verdict: "anomaly", kind: "pay_notify", detail: { reason: "amount_mismatch" } });
    expect(data.order).toMatchObject({ status: "NOTPAY" });
  });
});

describe("the Queue: ids are sent after commit, and the cron re-sends what a failed send() lost", () => {
  it("the notify's events are sent to EVENTS_QUEUE after the ACK", async () => {
    const sent: string[] = [];
    const sendBatch = vi.spyOn(env.EVENTS_QUEUE, "sendBatch").mockImplementation(async (messages: Iterable<MessageSendRequest>) => {
      for (const m of messages) sent.push(m.body as string);
      return {} as QueueSendBatchResponse;
    });
    const { eventId } = await paidByNotify();
    await vi.waitFor(() => expect(sent).toContain(eventId));
    expect(sendBatch).toHaveBeenCalled();
  });

  it("concurrent payments: each event id goes onto the Queue once, not once per request that saw it", async () => {
    const sent: string[] = [];
    vi.spyOn(env.EVENTS_QUEUE, "sendBatch").mockImplementation(async (messages: Iterable<MessageSendRequest>) => {
      for (const m of messages) sent.push(m.body as string);
      return {} as QueueSendBatchResponse;
    });
    const orders = await Promise.all(Array.from({ length: 6 }, () => newOrder(token, "evt-item")));
    await Promise.all(
      orders.map(({ order }) => postNotify("/wechat/pay/notify", signedNotifyXml(payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 })))),
    );
    const ids = (await Promise.all(orders.map(({ order }) => merchantEvents(order.outTradeNo)))).flat().map((e) => e.id);
    expect(ids).toHaveLength(6);
    await vi.waitFor(() => expect(new Set(sent)).toEqual(new Set([...sent, ...ids])));
    expect(sent.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
  });

  it("send() throws: the event stays pending; a minute later the cron sends it again and it is delivered", async () => {
    const failing = vi.spyOn(env.EVENTS_QUEUE, "sendBatch").mockRejectedValueOnce(new Error("Queue send failed"));
    const { eventId } = await paidByNotify();
    await vi.waitFor(() => expect(failing).toHaveBeenCalledTimes(1)); // the send after the ACK, which failed
    expect(await eventRow(eventId)).toMatchObject({ status: "pending", attempts: 0 });
    const resent: string[] = [];
    vi.spyOn(env.EVENTS_QUEUE, "sendBatch").mockImplementation(async (messages: Iterable<MessageSendRequest>) => {
      for (const m of messages) resent.push(m.body as string);
      return {} as QueueSendBatchResponse;
    });
    await runCron();
    expect(resent).not.toContain(eventId); // not overdue yet: the Queue may still be delivering it
    await env.DB.prepare("UPDATE merchant_events SET next_attempt_at = next_attempt_at - 61000 WHERE id = ?").bind(eventId).run();
    await runCron();
    expect(resent).toContain(eventId);
    await makeDue(eventId);
    await consume([eventId]);
    expect(await eventRow(eventId)).toMatchObject({ status: "delivered", attempts: 1, last_status: 200 });
  });
});

describe("delivery", () => {
  it("signed so that standardwebhooks verifies it; the body is the admin API's payload; acked", async () => {
    const { eventId } = await paidByNotify();
    const { result, messageIds } = await consume([eventId]);
    expect(result.explicitAcks).toEqual(messageIds);
    expect(await eventRow(eventId)).toMatchObject({ status: "delivered", attempts: 1, last_status: 200 });
    const deliveries = await receiver<Delivery[]>("GET", "/deliveries");
    expect(deliveries).toEqual([{ id: eventId, type: "order.paid", verified: true, duplicate: false, status: 200 }]);
    const [event] = await receiver<any[]>("GET", "/events");
    expect(event).toEqual((await admin("GET", `/webhooks/events/${eventId}`)).body.event.payload);
    const [attempt] = await attemptsOf(eventId);
    expect(attempt).toMatchObject({ status_code: 200, error_class: null, via: "queue" });
  });

  it("a receiver failing 3 times gets it on the 4th attempt, same id; backoff 30 s, 60 s, 120 s", async () => {
    const { eventId } = await paidByNotify();
    await receiver("POST", "/fail", { n: 3, status: 503 });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { result, messageIds } = await consume([eventId], i + 1);
      // The Queue retries the message (with the delay; the test Queue records only that it retried).
      expect(result.retryMessages.map((m) => m.msgId)).toEqual(messageIds);
      const row = await eventRow(eventId);
      expect(row).toMatchObject({ status: "pending", attempts: i + 1, last_status: 503 });
      delays.push((row.next_attempt_at - row.last_attempt_at) / 1000);
      // Not due yet: a message arriving early sends nothing and comes back when the event is due.
      const early = await consume([eventId], i + 1);
      expect(early.result.retryMessages.map((m) => m.msgId)).toEqual(early.messageIds);
      expect((await eventRow(eventId)).attempts).toBe(i + 1);
      await makeDue(eventId);
    }
    expect(delays).toEqual([30, 60, 120]);
    await consume([eventId], 4);
    expect(await eventRow(eventId)).toMatchObject({ status: "delivered", attempts: 4, last_status: 200 });
    const deliveries = await receiver<Delivery[]>("GET", "/deliveries");
    expect(deliveries.map((d) => [d.id, d.status])).toEqual([[eventId, 503], [eventId, 503], [eventId, 503], [eventId, 200]]);
    expect((await attemptsOf(eventId)).map((a) => a.error_class)).toEqual(["http_status", "http_status", "http_status", null]);
  });

  it("410 Gone → failed at once, no retry", async () => {
    const { eventId } = await paidByNotify();
    await receiver("POST", "/gone");
    const { result } = await consume([eventId]);
    expect(result.retryMessages).toEqual([]);
    expect(await eventRow(eventId)).toMatchObject({ status: "failed", attempts: 1, last_status: 410 });
  });

  it("a timeout (10 s) and a network error are retried and recorded by class, never with the secret", async () => {
    const { eventId } = await paidByNotify();
    const config = loadConfig(env);
    if (!config.ok) throw new Error("test config");
    const hang = (request: Request) =>
      new Promise<Response>((_, reject) => request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const pending = deliverMerchantEvent({ db: env.DB, webhook: config.config.webhook, now: () => new Date(), fetch: hang }, eventId, "queue");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await pending).toEqual({ result: "retry", delaySeconds: 30 });
    vi.useRealTimers();
    await makeDue(eventId);
    const refused = await deliverMerchantEvent(
      { db: env.DB, webhook: config.config.webhook, now: () => new Date(), fetch: () => Promise.reject(new TypeError("connection refused")) },
      eventId,
      "queue",
    );
    expect(refused).toEqual({ result: "retry", delaySeconds: 60 });
    const attempts = await attemptsOf(eventId);
    expect(attempts.map((a) => [a.error_class, a.status_code])).toEqual([["timeout", null], ["network", null]]);
    expect(JSON.stringify(attempts)).not.toContain((env.MERCHANT_WEBHOOK_SECRET ?? "").slice(6));
  });

  it("a redelivery after many failures starts a fresh backoff (30 s again, not 6 h)", async () => {
    const { eventId } = await paidByNotify();
    await env.DB.prepare("UPDATE merchant_events SET status = 'failed', attempts = 20 WHERE id = ?").bind(eventId).run();
    vi.spyOn(env.EVENTS_QUEUE, "send").mockResolvedValue({} as QueueSendResponse);
    expect((await admin("POST", `/webhooks/events/${eventId}/redeliver`)).status).toBe(202);
    await receiver("POST", "/fail", { n: 1, status: 503 });
    await consume([eventId]);
    const row = await eventRow(eventId);
    expect(row).toMatchObject({ status: "pending", attempts: 21 });
    expect((row.next_attempt_at - row.last_attempt_at) / 1000).toBe(30);
  });

  it("after 3 days of failures the event is failed", async () => {
    const { eventId } = await paidByNotify();
    await env.DB.prepare("UPDATE merchant_events SET retry_from = ?, attempts = 20 WHERE id = ?").bind(Date.now() - 3 * 86_400_000 + 60_000, eventId).run();
    await receiver("POST", "/fail", { n: 1, status: 500 });
    const { result } = await consume([eventId]);
    expect(result.retryMessages).toEqual([]);
    expect(await eventRow(eventId)).toMatchObject({ status: "failed", attempts: 21, last_status: 500 });
  });
});

describe("without MERCHANT_WEBHOOK_URL events accumulate, and are sent once it is set", () => {
  it("nothing is sent or attempted; admin lists them pending; with the URL the cron sends them", async () => {
    const noUrl = { ...env, MERCHANT_WEBHOOK_URL: "", MERCHANT_WEBHOOK_SECRET: "" };
    const sendBatch = vi.spyOn(env.EVENTS_QUEUE, "sendBatch");
    const { order } = await newOrder(token, "evt-item");
    const body = signedNotifyXml(payNotifyFields({ outTradeNo: order.outTradeNo, totalFee: 100 }));
    expect((await app.request(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body }, noUrl)).status).toBe(200);
    const [event] = await merchantEvents(order.outTradeNo);
    expect(sendBatch).not.toHaveBeenCalled();
    const batch = createMessageBatch<string>("merchant-events", [{ id: "m1", timestamp: new Date(), attempts: 1, body: event!.id }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, noUrl, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);
    expect(await eventRow(event!.id)).toMatchObject({ status: "pending", attempts: 0 });
    const listed = await admin("GET", "/webhooks/events?status=pending&type=order.paid");
    expect(listed.body.events.map((e: { id: string }) => e.id)).toContain(event!.id);
    // The URL is set (a deploy): the next cron run finds it overdue and sends it.
    await env.DB.prepare("UPDATE merchant_events SET next_attempt_at = next_attempt_at - 61000 WHERE id = ?").bind(event!.id).run();
    const resent: string[] = [];
    sendBatch.mockImplementation(async (messages: Iterable<MessageSendRequest>) => {
      for (const m of messages) resent.push(m.body as string);
      return {} as QueueSendBatchResponse;
    });
    await runCron();
    expect(resent).toContain(event!.id);
  });
});

describe("admin API", () => {
  it("lists with filters and paging, shows attempts, redelivers the same id (202), and the order view lists its events", async () => {
    const { outTradeNo, eventId } = await paidByNotify();
    await consume([eventId]);
    const list = await admin("GET", "/webhooks/events?status=delivered&limit=1");
    expect(list.status).toBe(200);
    expect(list.body.events[0]).toEqual({
      id: eventId, type: "order.paid", createdAt: expect.any(String), status: "delivered", attempts: 1,
      lastAttemptAt: expect.any(String), lastStatus: 200,
    });
    expect(typeof list.body.nextCursor === "string" || list.body.nextCursor === null).toBe(true);
    vi.spyOn(env.EVENTS_QUEUE, "send").mockResolvedValue({} as QueueSendResponse);
    const redeliver = await admin("POST", `/webhooks/events/${eventId}/redeliver`);
    expect(redeliver.status).toBe(202);
    expect(redeliver.body.event).toMatchObject({ id: eventId, status: "pending" });
    await consume([eventId]);
    const detail = await admin("GET", `/webhooks/events/${eventId}`);
    expect(detail.body.event).toMatchObject({ id: eventId, status: "delivered", attempts: 2 });
    expect(detail.body.attempts.map((a: { statusCode: number; via: string }) => [a.statusCode, a.via])).toEqual([[200, "queue"], [200, "queue"]]);
    const deliveries = await receiver<Delivery[]>("GET", "/deliveries");
    expect(deliveries.map((d) => [d.id, d.duplicate])).toEqual([[eventId, false], [eventId, true]]);
    const order = await admin("GET", `/orders/${outTradeNo}`);
    expect(order.body.webhooks).toEqual([expect.objectContaining({ id: eventId, type: "order.paid", status: "delivered", attempts: 2 })]);
  });

  it("bad filters → 400; unknown id → 404; a user token → 401", async () => {
    expect((await admin("GET", "/webhooks/events?status=sent")).status).toBe(400);
    expect((await admin("GET", "/webhooks/events?type=DROP")).status).toBe(400);
    expect((await admin("GET", "/webhooks/events/evt_000000000000000000000000")).status).toBe(404);
    expect((await admin("POST", "/webhooks/events/nope/redeliver")).status).toBe(404);
    expect((await api("GET", "/admin/webhooks/events", { token })).status).toBe(401);
  });
});

describe("config", () => {
  it("/health names a URL without a secret, a secret that is not whsec_, http in production and the example secret", async () => {
    const health = async (vars: Record<string, string>) => (await app.request(`${ORIGIN}/health`, {}, { ...env, ...vars })).json() as Promise<{ problems?: string[] }>;
    expect((await health({ MERCHANT_WEBHOOK_SECRET: "" })).problems).toContain("MERCHANT_WEBHOOK_SECRET is required with MERCHANT_WEBHOOK_URL");
    expect((await health({ MERCHANT_WEBHOOK_SECRET: "not-a-secret" })).problems).toContain(
      "MERCHANT_WEBHOOK_SECRET must be whsec_ followed by the base64 of 24 to 64 random bytes",
    );
    expect((await health({ WECHAT_PAY_BASE: "https://api.mch.weixin.qq.com" })).problems).toContain("MERCHANT_WEBHOOK_URL must use https");
    const example = await health({ WECHAT_PAY_BASE: "https://api.mch.weixin.qq.com", MERCHANT_WEBHOOK_SECRET: "whsec_bVq6EccZz057KvmNOV41258wzBD1gzQ9Hrk1IQSKM2I=" });
    expect(example.problems).toContain("MERCHANT_WEBHOOK_SECRET is the example value");
  });
});
