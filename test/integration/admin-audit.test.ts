// The admin audit trail: every admin action (product upserted, refund requested, shipment created,
// merchant event redelivered, reconciliation run) writes exactly one `applied` event with its actor
// ("token" for the bearer, the Access email otherwise) in the batch of its change, and no merchant
// event; an Idempotency-Key replay writes nothing; GET /admin/events and the order view show the actor.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { EMAIL, mintAccessToken, viaAccess } from "./access-harness";
import { admin, api, login, putProduct, rows } from "./harness";
import { paidOrder } from "./refund-harness";

let token: string;
beforeAll(async () => {
  await putProduct("audit-item", "Audit item", 100);
  token = await login("audit-tests");
});

interface EventRow {
  id: number;
  identity: string;
  kind: string;
  verdict: string;
  out_trade_no: string | null;
  transaction_id: string | null;
  out_refund_no: string | null;
  shipment_id: string | null;
  detail: string | null;
  actor: string | null;
}

const lastEventId = async () => (await rows<{ id: number | null }>("SELECT MAX(id) AS id FROM events"))[0]?.id ?? 0;
const merchantEventCount = async () => (await rows<{ n: number }>("SELECT COUNT(*) AS n FROM merchant_events"))[0]!.n;

/**
 * Runs one admin call and returns the events it wrote and the merchant events it created. Nothing else
 * runs meanwhile (workerd test files run one at a time), so these are the call's own.
 */
async function audited<T>(call: () => Promise<T>) {
  const [since, merchantBefore] = [await lastEventId(), await merchantEventCount()];
  const reply = await call();
  const events = await rows<EventRow>("SELECT * FROM events WHERE id > ? ORDER BY id", since);
  const merchantEvents = await rows<{ type: string; source: string }>("SELECT type, source FROM merchant_events ORDER BY seq LIMIT -1 OFFSET ?", merchantBefore);
  return { reply, events, merchantEvents, admin: events.filter((e) => e.actor !== null) };
}

describe("each admin action writes one actor event and no merchant event", () => {
  it("PUT /admin/products/:sku, by token and by Access", async () => {
    const byToken = await audited(() => admin("PUT", "/products/audit-prod", { name: "Audited", priceFen: 250 }));
    expect(byToken.reply.status).toBe(200);
    expect(byToken.events).toHaveLength(1);
    expect(byToken.events[0]).toMatchObject({
      kind: "admin_product", verdict: "applied", actor: "token", out_trade_no: null, identity: expect.stringMatching(/^admin_product:[0-9a-f-]{36}$/),
    });
    expect(JSON.parse(byToken.events[0]!.detail!)).toEqual({ sku: "audit-prod", name: "Audited", price_fen: 250, active: true, fulfilment: null });
    expect(byToken.merchantEvents).toEqual([]);

    const byAccess = await audited(async () => viaAccess("PUT", "/products/audit-prod", await mintAccessToken(), { name: "Audited", priceFen: 300, active: false, fulfilment: "virtual" }));
    expect(byAccess.reply.status).toBe(200);
    expect(byAccess.events.map((e) => [e.kind, e.actor])).toEqual([["admin_product", EMAIL]]);
    expect(JSON.parse(byAccess.events[0]!.detail!)).toEqual({ sku: "audit-prod", name: "Audited", price_fen: 300, active: false, fulfilment: "virtual" });
    expect(byAccess.events[0]!.identity).not.toBe(byToken.events[0]!.identity);
    expect(byAccess.merchantEvents).toEqual([]);

    // A refused upsert (400) writes neither the product nor an event.
    const refused = await audited(() => admin("PUT", "/products/audit-prod", { name: "", priceFen: 1 }));
    expect(refused.reply.status).toBe(400);
    expect(refused.events).toEqual([]);
  });

  it("POST /admin/orders/:no/refunds by Access: the refund's event names the email; an Idempotency-Key replay writes nothing", async () => {
    const order = await paidOrder(token, "audit-item");
    const access = await mintAccessToken();
    const refund = () => viaAccess("POST", `/orders/${order.outTradeNo}/refunds`, access, { refundFee: 40, reason: "damaged" }, { "idempotency-key": "audit-refund-1" });
    const first = await audited(refund);
    expect(first.reply.status).toBe(201);
    const outRefundNo = first.reply.body.refund.outRefundNo;
    expect(first.events).toHaveLength(1);
    expect(first.events[0]).toMatchObject({
      identity: `refund:${outRefundNo}:PROCESSING`, kind: "admin_refund", verdict: "applied", actor: EMAIL,
      out_trade_no: order.outTradeNo, out_refund_no: outRefundNo, transaction_id: order.transactionId,
    });
    expect(first.merchantEvents).toEqual([]);

    const replay = await audited(refund);
    expect(replay.reply.status).toBe(201);
    expect(replay.reply.body.refund.outRefundNo).toBe(outRefundNo);
    expect(replay.events).toEqual([]);
    expect(replay.merchantEvents).toEqual([]);

    // The order view and the event log show who asked.
    const view = await admin("GET", `/orders/${order.outTradeNo}`);
    expect(view.body.events.map((e: any) => [e.kind, e.actor])).toEqual([["order_query", null], ["admin_refund", EMAIL]]);
    const listed = (await admin("GET", "/events?verdict=applied&limit=100")).body.events.find((e: any) => e.outRefundNo === outRefundNo);
    expect(listed).toMatchObject({ kind: "admin_refund", actor: EMAIL, outTradeNo: order.outTradeNo });
  });

  it("POST /admin/orders/:no/shipments by token: one admin_shipment event with the shipment; a replay writes nothing", async () => {
    const order = await paidOrder(token, "audit-item");
    const body = { logisticsType: "express", items: [{ trackingNo: "SF0000000001", expressCompany: "SF", itemDesc: "Audit item", contact: { receiverContact: "189****1234" } }] };
    const ship = () => api("POST", `/admin/orders/${order.outTradeNo}/shipments`, { token: env.ADMIN_TOKEN, body, headers: { "idempotency-key": "audit-ship-1" } });
    const first = await audited(ship);
    expect(first.reply.status).toBe(201);
    const shipmentId = first.reply.body.shipment.id;
    expect(first.admin).toHaveLength(1);
    expect(first.admin[0]).toMatchObject({
      identity: expect.stringMatching(/^admin_shipment:[0-9a-f-]{36}$/),
      kind: "admin_shipment", verdict: "applied", actor: "token", out_trade_no: order.outTradeNo, transaction_id: order.transactionId, shipment_id: shipmentId,
    });
    expect(JSON.parse(first.admin[0]!.detail!)).toEqual({ logistics_type: "express", items: 1 });
    // The upload itself is a fact for the merchant (shipment.uploaded, from its own event); the admin event is not.
    expect(first.events.map((e) => e.kind)).toEqual(["admin_shipment", "shipping"]);
    expect(first.merchantEvents.map((m) => m.type)).toEqual(["shipment.uploaded"]);
    expect(first.merchantEvents[0]!.source).toBe(`shipment.uploaded:shipment:${shipmentId}:UPLOADED`);

    const replay = await audited(ship);
    expect(replay.reply.body.shipment.id).toBe(shipmentId);
    expect(replay.events).toEqual([]);
    expect(replay.merchantEvents).toEqual([]);
  });

  it("POST /admin/webhooks/events/:id/redeliver by Access: one admin_redeliver event for the merchant event's order", async () => {
    const order = await paidOrder(token, "audit-item");
    const [paid] = await rows<{ id: string }>("SELECT id FROM merchant_events WHERE out_trade_no = ? AND type = 'order.paid'", order.outTradeNo);
    const redeliver = await audited(async () => viaAccess("POST", `/webhooks/events/${paid!.id}/redeliver`, await mintAccessToken()));
    expect(redeliver.reply.status).toBe(202);
    expect(redeliver.events).toHaveLength(1);
    expect(redeliver.events[0]).toMatchObject({ kind: "admin_redeliver", verdict: "applied", actor: EMAIL, out_trade_no: order.outTradeNo });
    expect(JSON.parse(redeliver.events[0]!.detail!)).toEqual({ event_id: paid!.id });
    expect(redeliver.merchantEvents).toEqual([]);

    // An unknown event id: 404, and no event (the event is written only with its change).
    const missing = await audited(() => admin("POST", "/webhooks/events/evt_000000000000000000000000/redeliver"));
    expect(missing.reply.status).toBe(404);
    expect(missing.events).toEqual([]);
  });

  it("POST /admin/reconcile: one admin_reconcile event whose detail is the run's summary", async () => {
    const run = await audited(() => admin("POST", "/reconcile"));
    expect(run.reply.status).toBe(200);
    expect(run.admin).toHaveLength(1);
    expect(run.admin[0]).toMatchObject({ kind: "admin_reconcile", verdict: "applied", actor: "token", out_trade_no: null });
    expect(JSON.parse(run.admin[0]!.detail!)).toEqual(run.reply.body);
    // Whatever else the run applied came from WeChat's answers, with no actor.
    expect(run.events.filter((e) => e.kind !== "admin_reconcile").every((e) => e.actor === null)).toBe(true);
    expect(run.merchantEvents.filter((m) => m.source.includes("admin_"))).toEqual([]);
  });

  it("across the file: only admin actions carry an actor, and no admin event ever became a merchant event", async () => {
    const withActor = await rows<{ kind: string }>("SELECT DISTINCT kind FROM events WHERE actor IS NOT NULL ORDER BY kind");
    expect(withActor.map((r) => r.kind)).toEqual(["admin_product", "admin_reconcile", "admin_redeliver", "admin_refund", "admin_shipment"]);
    expect(await rows("SELECT identity FROM events WHERE kind LIKE 'admin%' AND actor IS NULL")).toEqual([]);
    const fromAdmin = await rows(
      "SELECT m.source FROM merchant_events m JOIN events e ON instr(m.source, e.identity) > 0 WHERE e.kind LIKE 'admin%'",
    );
    expect(fromAdmin).toEqual([]);
  });
});

describe("the merchant-event trigger and admin identities", () => {
  it("an admin event of every kind, whatever its order's state, creates no merchant event", async () => {
    const order = await paidOrder(token, "audit-item");
    const before = await merchantEventCount();
    const kinds = ["admin_product", "admin_shipment", "admin_redeliver", "admin_reconcile"];
    for (const kind of kinds) {
      await env.DB.prepare("INSERT INTO events (identity, kind, verdict, out_trade_no, detail, created_at, actor) VALUES (?, ?, 'applied', ?, '{}', ?, 'token')")
        .bind(`${kind}:${crypto.randomUUID()}`, kind, order.outTradeNo, Date.now())
        .run();
    }
    // And a refund's PROCESSING fact, the admin_refund event.
    await env.DB.prepare("INSERT INTO events (identity, kind, verdict, out_trade_no, created_at, actor) VALUES (?, 'admin_refund', 'applied', ?, ?, 'token')")
      .bind(`refund:R${Date.now()}:PROCESSING`, order.outTradeNo, Date.now())
      .run();
    expect(await merchantEventCount()).toBe(before);
    // A non-admin applied fact on the same order still does (the trigger is alive).
    await env.DB.prepare("INSERT INTO events (identity, kind, verdict, out_trade_no, created_at) VALUES (?, 'push', 'applied', ?, ?)")
      .bind(`settled:${order.transactionId}`, order.outTradeNo, Date.now())
      .run();
    expect(await merchantEventCount()).toBe(before + 1);
  });
});
