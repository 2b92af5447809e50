// Merchant events over real processes: the Worker under `wrangler dev` (whose local Queue carries the
// event ids to the consumer, with message.retry delays), the WeChat simulator delivering notifications
// over HTTP, and the example merchant receiver (examples/merchant-webhook, verifying every delivery
// with the standardwebhooks package) as MERCHANT_WEBHOOK_URL, all from scripts/local-stack.mjs.
// Each scenario checks what the receiver got and what the Worker's admin API says about the event.
// WEBHOOK_RETRY_BASE_SECONDS=1 makes the backoff 1 s, 2 s, 4 s, so retries take seconds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleVars, freePort, startStack } from "../../scripts/local-stack.mjs";

type Order = { outTradeNo: string; status: string; totalFee: number; refundedFee: number } & Record<string, unknown>;
type Attempt = { attemptedAt: string; statusCode: number | null; errorClass: string | null; via: string };
type AdminEvent = { event: { id: string; type: string; status: string; attempts: number; lastStatus: number | null; payload: unknown }; attempts: Attempt[] };

const vars: Record<string, string> = { ...exampleVars(), WEBHOOK_RETRY_BASE_SECONDS: "1" };
const persistTo = mkdtempSync(join(tmpdir(), "wxpay-events-"));
let stack: Awaited<ReturnType<typeof startStack>>;
let token: string;

const receiver = () => stack.receiver!;

async function call<T = any>(method: string, path: string, { auth, body, base = stack.workerUrl }: { auth?: string; body?: unknown; base?: string } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, text };
}

/** Polls `probe` every 100 ms until it returns something other than undefined; fails after `ms`. */
async function until<T>(what: string, ms: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n--- wrangler output (tail) ---\n${stack.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The receiver's stored events of one order (by the outTradeNo in their data), in arrival order. */
const eventsOf = (outTradeNo: string) =>
  receiver().events.filter((e) => (e.data.order?.outTradeNo ?? e.data.refund?.outTradeNo) === outTradeNo);

/** Waits until the receiver has stored an event of `type` for the order. */
const received = (type: string, outTradeNo: string, ms = 20_000) =>
  until(`${type} for ${outTradeNo} at the receiver`, ms, () => eventsOf(outTradeNo).find((e) => e.type === type));

/** GET /admin/webhooks/events/:id once the Worker has recorded it as delivered. */
const deliveredInAdmin = (id: string) =>
  until(`${id} delivered in the admin API`, 10_000, async () => {
    const r = await call<AdminEvent>("GET", `/admin/webhooks/events/${id}`, { auth: vars.ADMIN_TOKEN });
    expect(r.status, r.text).toBe(200);
    return r.body.event.status === "delivered" ? r.body : undefined;
  });

/** A new order for one "tea" paid in the simulator, which notifies the Worker over HTTP. */
async function payNewOrder(): Promise<Order> {
  const created = await call("POST", "/api/orders", { auth: token, body: { items: [{ sku: "tea", quantity: 1 }] } });
  expect(created.status, created.text).toBe(201);
  const paid = await call("POST", "/__sim/pay", { base: stack.simUrl, body: { payment: created.body.payment } });
  expect(paid.status, paid.text).toBe(200);
  return created.body.order;
}

beforeAll(async () => {
  const [workerPort, simPort, receiverPort] = [await freePort(), await freePort(), await freePort()];
  // Refunds complete at the simulator 200 ms after they are accepted, then it notifies the Worker.
  stack = await startStack({ workerPort, simPort, receiverPort, persistTo, vars, receiver: true, simOptions: { autoCompleteRefundsAfterMs: 200 } });
  const product = await call("PUT", "/admin/products/tea", { auth: vars.ADMIN_TOKEN, body: { name: "Oolong tea 250g", priceFen: 1990 } });
  expect(product.status, product.text).toBe(200);
  const login = await call("POST", "/api/login", { body: { code: `events-${Date.now()}` } });
  expect(login.status, login.text).toBe(200);
  token = login.body.token;
}, 150_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

describe("merchant events from wrangler dev's Queue to the example receiver", () => {
  it("a payment: order.paid arrives verified, carrying the order as GET /api/orders/:id shows it", async () => {
    const order = await payNewOrder();
    const event = await received("order.paid", order.outTradeNo);

    const deliveries = receiver().deliveries.filter((d) => d.id === event.id);
    expect(deliveries).toEqual([{ id: event.id, type: "order.paid", verified: true, duplicate: false, status: 200 }]);
    const api = await call("GET", `/api/orders/${order.outTradeNo}`, { auth: token });
    expect(api.body.order.status).toBe("PAID");
    expect(event.data.order).toEqual(api.body.order);
    expect(eventsOf(order.outTradeNo).map((e) => e.type)).toEqual(["order.paid"]);

    const admin = await deliveredInAdmin(event.id);
    expect(admin.event).toMatchObject({ id: event.id, type: "order.paid", status: "delivered", attempts: 1, lastStatus: 200 });
    expect(admin.event.payload).toEqual(event);
    expect(admin.attempts.map((a) => [a.statusCode, a.errorClass, a.via])).toEqual([[200, null, "queue"]]);
  }, 30_000);

  it("a receiver down for 3 attempts: the 4th delivers the same webhook-id, after 1 s, 2 s and 4 s", async () => {
    const before = receiver().deliveries.length;
    receiver().failNext(3);
    const order = await payNewOrder();
    const event = await received("order.paid", order.outTradeNo);

    const deliveries = receiver().deliveries.slice(before);
    expect(deliveries.map((d) => [d.id, d.verified, d.status])).toEqual([
      [event.id, true, 503],
      [event.id, true, 503],
      [event.id, true, 503],
      [event.id, true, 200],
    ]);
    expect(eventsOf(order.outTradeNo)).toEqual([event]);

    const admin = await deliveredInAdmin(event.id);
    expect(admin.event).toMatchObject({ id: event.id, status: "delivered", attempts: 4, lastStatus: 200 });
    expect(admin.attempts.map((a) => [a.statusCode, a.errorClass])).toEqual([[503, "http_status"], [503, "http_status"], [503, "http_status"], [200, null]]);
    expect(admin.attempts.every((a) => a.via === "queue"), "every retry came from the Queue (message.retry), not the cron").toBe(true);
    // message.retry({ delaySeconds }) honoured: each retry waited at least its backoff.
    const at = admin.attempts.map((a) => Date.parse(a.attemptedAt));
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    gaps.forEach((gap, i) => expect(gap, `gap before attempt ${i + 2} (ms): ${gaps.join(", ")}`).toBeGreaterThanOrEqual(1000 * 2 ** i - 50));
  }, 40_000);

  it("a refund: refund.succeeded, then order.refunded, each delivered once", async () => {
    const order = await payNewOrder();
    await received("order.paid", order.outTradeNo);
    const refund = await call("POST", `/admin/orders/${order.outTradeNo}/refunds`, { auth: vars.ADMIN_TOKEN, body: { refundFee: order.totalFee, reason: "events e2e" } });
    expect(refund.status, refund.text).toBe(201);
    const refunded = await received("order.refunded", order.outTradeNo);

    const events = eventsOf(order.outTradeNo);
    expect(events.map((e) => e.type)).toEqual(["order.paid", "refund.succeeded", "order.refunded"]);
    const succeeded = events[1]!;
    expect(succeeded.data.refund).toMatchObject({ outRefundNo: refund.body.refund.outRefundNo, outTradeNo: order.outTradeNo, refundFee: order.totalFee, status: "SUCCESS" });
    expect(refunded.data.order).toMatchObject({ outTradeNo: order.outTradeNo, status: "REFUNDED", refundedFee: order.totalFee });
    for (const event of [succeeded, refunded]) {
      expect(receiver().deliveries.filter((d) => d.id === event.id).map((d) => [d.verified, d.status])).toEqual([[true, 200]]);
      const admin = await deliveredInAdmin(event.id);
      expect(admin.event).toMatchObject({ id: event.id, type: event.type, attempts: 1, lastStatus: 200 });
      expect(admin.event.payload).toEqual(event);
    }
  }, 30_000);
});
