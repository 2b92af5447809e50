/**
 * /admin/*: the ADMIN_TOKEN bearer or a Cloudflare Access token (admin-auth.ts); a user's session
 * token is refused. Every action that changes something records its actor on its event.
 */
import { Hono } from "hono/tiny";
import { badRequest, notFound } from "../errors";
import { reconcileBill } from "../orders/bill-reconcile";
import { runReconciliation } from "../orders/reconcile";
import { createRefund } from "../orders/refunds";
import { eventJson, orderJson, productJson, refundJson, shipmentJson } from "../orders/view";
import { listEvents, listEventsForOrder, type Verdict } from "../store/events";
import { getOrder, getOrderItems, listOrders, type OrderStatus } from "../store/orders";
import { upsertProduct } from "../store/products";
import { listMerchantEventsForOrder } from "../store/merchant-events";
import { listRefundsForOrder } from "../store/refunds";
import { getShipmentsForOrders } from "../store/shipments";
import { merchantEventSummaryJson } from "../webhooks/view";
import { requireAdmin } from "./admin-auth";
import { adminProductRoutes } from "./admin-products";
import { decodeCursor, decodeOrderCursor, encodeCursor, assertWechatText, idempotencyKeyHeader, limitParam, outTradeNoParam, readJsonObject } from "./json";
import type { AppEnv } from "./types";
import { shippingAdminRoutes } from "./shipping";
import { webhookAdminRoutes } from "./webhooks";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("*", requireAdmin);

/** Who is signed in, and how: the console asks without a bearer token to find out whether Access lets it in. */
adminRoutes.get("/session", (c) => c.json({ actor: c.var.actor, via: c.var.authVia }));

adminRoutes.put("/products/:sku", async (c) => {
  const sku = c.req.param("sku");
  if (!/^[\x21-\x7e]{1,64}$/.test(sku)) throw badRequest("sku must be 1 to 64 printable ASCII characters");
  const body = await readJsonObject(c);
  const { name, priceFen, active, fulfilment } = body;
  if (typeof name !== "string" || name.trim() === "" || name.length > 100) throw badRequest("name must be a non-empty string of at most 100 characters");
  // The name becomes unifiedorder's body and the bill's 商品名称.
  assertWechatText("name", name);
  if (typeof priceFen !== "number" || !Number.isInteger(priceFen) || priceFen < 1 || priceFen > MAX_PRICE_FEN) {
    throw badRequest(`priceFen must be an integer number of fen from 1 to ${MAX_PRICE_FEN}`);
  }
  if (active !== undefined && typeof active !== "boolean") throw badRequest("active must be a boolean");
  // Omitted: a new product is physical, an existing one keeps what it was.
  if (fulfilment !== undefined && fulfilment !== "physical" && fulfilment !== "virtual") throw badRequest('fulfilment must be "physical" or "virtual"');
  const row = await upsertProduct(c.env.DB, { sku, name, priceFen, active: active ?? true, fulfilment: fulfilment ?? null, now: c.var.deps.now().getTime() }, c.var.actor);
  return c.json({ product: productJson(row) });
});

const ORDER_STATUSES: readonly OrderStatus[] = ["NOTPAY", "PAID", "CLOSED", "PAYERROR", "REFUNDED"];
const VERDICTS: readonly Verdict[] = ["applied", "anomaly"];
const REASON_MAX_CHARS = 80;
/** ¥1,000,000 a unit: far above any mini-program shop's price, far below WeChat's total limit. */
const MAX_PRICE_FEN = 100_000_000;

adminRoutes.get("/orders", async (c) => {
  const status = c.req.query("status") || null;
  if (status !== null && !ORDER_STATUSES.includes(status as OrderStatus)) {
    throw badRequest(`status must be one of ${ORDER_STATUSES.join(", ")}`);
  }
  const limit = limitParam(c.req.query("limit"));
  const rows = await listOrders(c.env.DB, status as OrderStatus | null, limit, decodeOrderCursor(c.req.query("cursor")));
  const items = await getOrderItems(c.env.DB, rows.map((r) => r.out_trade_no));
  const last = rows.at(-1);
  return c.json({
    orders: rows.map((r) => orderJson(r, items.get(r.out_trade_no) ?? [])),
    nextCursor: rows.length === limit && last ? encodeCursor([last.created_at, last.out_trade_no]) : null,
  });
});

adminRoutes.get("/orders/:outTradeNo", async (c) => {
  const outTradeNo = outTradeNoParam(c.req.param("outTradeNo"));
  const order = await getOrder(c.env.DB, outTradeNo);
  if (!order) throw notFound("order not found");
  const [items, refunds, events, webhooks, shipments] = await Promise.all([
    getOrderItems(c.env.DB, [outTradeNo]),
    listRefundsForOrder(c.env.DB, outTradeNo),
    listEventsForOrder(c.env.DB, outTradeNo),
    listMerchantEventsForOrder(c.env.DB, outTradeNo),
    getShipmentsForOrders(c.env.DB, [outTradeNo]),
  ]);
  return c.json({
    order: orderJson(order, items.get(outTradeNo) ?? []),
    refunds: refunds.map(refundJson),
    events: events.map(eventJson),
    webhooks: webhooks.map(merchantEventSummaryJson),
    shipments: (shipments.get(outTradeNo) ?? []).map(shipmentJson),
  });
});

adminRoutes.post("/orders/:outTradeNo/refunds", async (c) => {
  const outTradeNo = outTradeNoParam(c.req.param("outTradeNo"));
  const body = await readJsonObject(c);
  const { refundFee, reason } = body;
  if (typeof refundFee !== "number" || !Number.isSafeInteger(refundFee) || refundFee < 1) {
    throw badRequest("refundFee must be an integer number of fen, at least 1");
  }
  if (reason !== undefined && reason !== null && typeof reason !== "string") throw badRequest("reason must be a string");
  if (typeof reason === "string" && [...reason].length > REASON_MAX_CHARS) throw badRequest(`reason must be at most ${REASON_MAX_CHARS} characters`);
  // It travels as refund_desc in WeChat's XML and into the bill.
  if (typeof reason === "string") assertWechatText("reason", reason);
  const refund = await createRefund(c.var.deps, {
    outTradeNo,
    refundFee,
    reason: typeof reason === "string" && reason !== "" ? reason : null,
    idempotencyKey: idempotencyKeyHeader(c.req.header("idempotency-key")),
    actor: c.var.actor,
  });
  return c.json({ refund: refundJson(refund) }, 201);
});

adminRoutes.get("/events", async (c) => {
  const verdict = c.req.query("verdict") || null;
  if (verdict !== null && !VERDICTS.includes(verdict as Verdict)) throw badRequest(`verdict must be one of ${VERDICTS.join(", ")}`);
  const limit = limitParam(c.req.query("limit"));
  const cursor = decodeCursor(c.req.query("cursor"));
  if (cursor && !Number.isSafeInteger(cursor[0])) throw badRequest("cursor is invalid");
  const rows = await listEvents(c.env.DB, verdict as Verdict | null, limit, cursor ? (cursor[0] as number) : null);
  const last = rows.at(-1);
  return c.json({ events: rows.map(eventJson), nextCursor: rows.length === limit && last ? encodeCursor([last.id]) : null });
});

adminRoutes.post("/reconcile", async (c) => {
  return c.json(await runReconciliation(c.var.deps, {}, c.var.actor));
});

adminRoutes.get("/reconciliation/:date", async (c) => {
  return c.json(await reconcileBill(c.var.deps, c.req.param("date")));
});

adminRoutes.route("/webhooks", webhookAdminRoutes);
adminRoutes.route("/", shippingAdminRoutes);
adminRoutes.route("/", adminProductRoutes);
