// The admin API: order listing with status filter and keyset pagination, order detail with refunds
// and events, the event log with the anomaly filter, and admin auth (a user's token is refused).
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { admin, api, login, payInWechat, payNotifyFields, postNotify, putProduct, signedNotifyXml } from "./harness";
import { completeAtWechat, deliverOwn, newOrder, paidOrder, requestRefund } from "./refund-harness";

let token: string;
const created: Record<string, string[]> = { NOTPAY: [], PAID: [], CLOSED: [], PAYERROR: [], REFUNDED: [] };
let refundedOrder: string;
let refundNo: string;
let anomalyOrder: string;

beforeAll(async () => {
  await putProduct("adm-item", "Admin item", 100);
  token = await login("admin-tests");
  for (let i = 0; i < 3; i++) created.NOTPAY!.push((await newOrder(token, "adm-item")).order.outTradeNo);
  for (let i = 0; i < 2; i++) created.PAID!.push((await paidOrder(token, "adm-item", i + 1)).outTradeNo);

  const toClose = (await newOrder(token, "adm-item")).order.outTradeNo;
  expect((await api("POST", `/api/orders/${toClose}/cancel`, { token })).status).toBe(200);
  created.CLOSED!.push(toClose);

  const failing = await newOrder(token, "adm-item");
  await payInWechat(failing.payment, { notify: "none", result: "FAIL" });
  expect((await api("GET", `/api/orders/${failing.order.outTradeNo}`, { token })).body.order.status).toBe("PAYERROR");
  created.PAYERROR!.push(failing.order.outTradeNo);

  const refunded = await paidOrder(token, "adm-item");
  const refund = (await requestRefund(refunded.outTradeNo, 100, "customer request")).body.refund;
  await deliverOwn(await completeAtWechat(refund.outRefundNo, "SUCCESS"));
  created.REFUNDED!.push(refunded.outTradeNo);
  refundedOrder = refunded.outTradeNo;
  refundNo = refund.outRefundNo;

  // A signed notify with the wrong amount: an anomaly on a NOTPAY order.
  anomalyOrder = created.NOTPAY![0]!;
  const reply = await postNotify("/wechat/pay/notify", signedNotifyXml(payNotifyFields({ outTradeNo: anomalyOrder, totalFee: 1 })));
  expect(reply.status).toBe(200);
});

const allMine = () => Object.values(created).flat();

describe("GET /admin/orders", () => {
  it("lists every order newest first, in the order JSON of the contract", async () => {
    const reply = await admin("GET", "/orders?limit=100");
    expect(reply.status).toBe(200);
    const listed = reply.body.orders as any[];
    const nos = listed.map((o) => o.outTradeNo);
    for (const no of allMine()) expect(nos).toContain(no);
    const times = listed.map((o) => Date.parse(o.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const paid = listed.find((o) => o.outTradeNo === created.PAID![1]);
    expect(Object.keys(paid).sort()).toEqual(
      ["api", "attach", "createdAt", "description", "expiresAt", "items", "outTradeNo", "paidAt", "refundedFee", "settledAt", "status", "totalFee", "transactionId"].sort(),
    );
    expect(Object.keys(paid).at(-1)).toBe("api");
    expect(paid).toMatchObject({ api: "v2", status: "PAID", totalFee: 200, items: [{ sku: "adm-item", name: "Admin item", quantity: 2, priceFen: 100 }], refundedFee: 0 });
    expect(paid.transactionId).toMatch(/^4200\d{24}$/);
  });

  it("filters by each of the five states", async () => {
    for (const [status, nos] of Object.entries(created)) {
      const reply = await admin("GET", `/orders?status=${status}&limit=100`);
      expect(reply.status).toBe(200);
      const listed = reply.body.orders as any[];
      expect(listed.every((o) => o.status === status), status).toBe(true);
      for (const no of nos) expect(listed.map((o) => o.outTradeNo)).toContain(no);
    }
    const refunded = (await admin("GET", "/orders?status=REFUNDED")).body.orders.find((o: any) => o.outTradeNo === refundedOrder);
    expect(refunded).toMatchObject({ status: "REFUNDED", refundedFee: 100 });
  });

  it("paginates with an opaque cursor: pages add up to the full list, no duplicates, nextCursor null at the end", async () => {
    const full = (await admin("GET", "/orders?limit=100")).body.orders.map((o: any) => o.outTradeNo);
    const walked: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const reply: any = await admin("GET", `/orders?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(reply.status).toBe(200);
      expect(reply.body.orders.length).toBeLessThanOrEqual(3);
      walked.push(...reply.body.orders.map((o: any) => o.outTradeNo));
      cursor = reply.body.nextCursor;
      if (!cursor) break;
    }
    expect(walked).toEqual(full);
    expect(new Set(walked).size).toBe(walked.length);
    // A filtered walk as well.
    const first = await admin("GET", "/orders?status=NOTPAY&limit=1");
    const second = await admin("GET", `/orders?status=NOTPAY&limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.orders[0].status).toBe("NOTPAY");
    expect(second.body.orders[0].outTradeNo).not.toBe(first.body.orders[0].outTradeNo);
  });

  it("invalid status, limit or cursor → 400", async () => {
    for (const query of ["status=paid", "status=REFUND", "status=%27%20OR%201%3D1", "limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=WzFd", "cursor=eyJhIjoxfQ"]) {
      const reply = await admin("GET", `/orders?${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code).toBe("BAD_REQUEST");
    }
  });
});

describe("GET /admin/orders/:outTradeNo", () => {
  it("returns the order with its refunds and its events", async () => {
    const reply = await admin("GET", `/orders/${refundedOrder}`);
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual(["events", "order", "refunds", "shipments", "webhooks"]);
    expect(reply.body.order).toMatchObject({ outTradeNo: refundedOrder, status: "REFUNDED", refundedFee: 100 });
    expect(reply.body.refunds).toEqual([
      {
        outRefundNo: refundNo, outTradeNo: refundedOrder, refundFee: 100, status: "SUCCESS", reason: "customer request",
        createdAt: expect.stringMatching(/Z$/), succeededAt: expect.stringMatching(/Z$/),
      },
    ]);
    expect(reply.body.events.map((e: any) => [e.kind, e.verdict, e.outRefundNo])).toEqual([
      ["order_query", "applied", null],
      ["admin_refund", "applied", refundNo],
      ["refund_notify", "applied", refundNo],
    ]);
    const event = reply.body.events[0];
    expect(Object.keys(event).sort()).toEqual(["actor", "createdAt", "detail", "id", "kind", "outRefundNo", "outTradeNo", "transactionId", "verdict"].sort());
    expect(event.actor).toBeNull();
    expect(reply.body.events[1]).toMatchObject({ kind: "admin_refund", actor: "token" });
    expect(event.detail).toMatchObject({ source: "order_query", total_fee: 100 });
  });

  it("an order without refunds has an empty list; unknown or malformed → 404 NOT_FOUND", async () => {
    const reply = await admin("GET", `/orders/${created.NOTPAY![1]}`);
    expect(reply.body).toMatchObject({ refunds: [], events: [] });
    for (const no of ["NOSUCHORDER", "not%20valid!", "x".repeat(40)]) {
      const missing = await admin("GET", `/orders/${no}`);
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe("NOT_FOUND");
    }
  });
});

describe("GET /admin/events", () => {
  it("?verdict=anomaly lists only anomalies, newest first, including the one recorded above", async () => {
    const reply = await admin("GET", "/events?verdict=anomaly&limit=100");
    expect(reply.status).toBe(200);
    const events = reply.body.events as any[];
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.verdict === "anomaly")).toBe(true);
    expect(events.find((e) => e.outTradeNo === anomalyOrder)).toMatchObject({
      kind: "pay_notify", detail: { reason: "amount_mismatch", expected: 100, received: 1 },
    });
    const ids = events.map((e) => e.id);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    const applied = (await admin("GET", "/events?verdict=applied&limit=100")).body.events as any[];
    expect(applied.length).toBeGreaterThanOrEqual(6);
    expect(applied.every((e) => e.verdict === "applied")).toBe(true);
  });

  it("paginates by cursor; an unknown verdict or bad cursor → 400", async () => {
    const all = (await admin("GET", "/events?limit=100")).body.events.map((e: any) => e.id);
    const walked: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const reply: any = await admin("GET", `/events?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      walked.push(...reply.body.events.map((e: any) => e.id));
      cursor = reply.body.nextCursor;
      if (!cursor) break;
    }
    expect(walked).toEqual(all);
    for (const query of ["verdict=ANOMALY", "verdict=duplicate", "cursor=WyJ4Il0", "limit=-1"]) {
      expect((await admin("GET", `/events?${query}`)).status, query).toBe(400);
    }
  });
});

describe("admin auth", () => {
  const endpoints: [string, string, unknown?][] = [
    ["GET", "/admin/orders"],
    ["GET", "/admin/orders/NOSUCHORDER"],
    ["POST", "/admin/orders/NOSUCHORDER/refunds", { refundFee: 1 }],
    ["GET", "/admin/events?verdict=anomaly"],
    ["POST", "/admin/reconcile"],
    ["GET", "/admin/reconciliation/20260101"],
  ];

  it("refuses a user's session token, no token and a wrong admin token with 401 on every endpoint", async () => {
    for (const [method, path, body] of endpoints) {
      for (const auth of [token, undefined, `${env.ADMIN_TOKEN}x`, env.ADMIN_TOKEN.slice(0, -1)]) {
        const reply = await api(method, path, { token: auth, body });
        expect(reply.status, `${method} ${path}`).toBe(401);
        expect(reply.body.error.code).toBe("UNAUTHORIZED");
      }
    }
  });
});

describe("product validation", () => {
  it("refuses control characters in a product name (it becomes unifiedorder's body) with 400", async () => {
    const reply = await admin("PUT", "/products/ctrl-item", { name: "bad\u0007name", priceFen: 10 });
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toContain("name");
    expect((await api("GET", "/api/products")).body.products.map((p: any) => p.sku)).not.toContain("ctrl-item");
  });
});
