/** The mini program's order endpoints (README, "HTTP API"). Thin: validate, call a service, shape JSON. */
import { Hono } from "hono/tiny";
import { badRequest, notFound } from "../errors";
import { cancelOrder } from "../orders/cancel";
import { checkout, type CartLine } from "../orders/checkout";
import { ensurePayment } from "../orders/prepay";
import { readOwnOrder } from "../orders/read";
import { orderJson, shipmentJson } from "../orders/view";
import { getShipmentsForOrders } from "../store/shipments";
import { getOrderForUser, getOrderItems, listOrdersForUser, type OrderRow } from "../store/orders";
import { isValidOutTradeNo } from "../wechatpay/ids";
import { requireUser } from "./auth";
import { decodeOrderCursor, encodeCursor, idempotencyKeyHeader, limitParam, optionalString, readJsonObject } from "./json";
import { clientIp, enforceRateLimit } from "./rate-limit";
import type { AppEnv } from "./types";

export const orderRoutes = new Hono<AppEnv>();
orderRoutes.use("/orders", requireUser);
orderRoutes.use("/orders/*", requireUser);

const MAX_ITEMS = 50;

orderRoutes.post("/orders", async (c) => {
  await enforceRateLimit(c.env.ORDER_LIMITER, `orders:${c.var.userId}`);
  const body = await readJsonObject(c);
  const items = parseItems(body.items);
  const attach = optionalString(body, "attach", 127);
  const idempotencyKey = idempotencyKeyHeader(c.req.header("idempotency-key"));
  // Any amount, openid or out_trade_no in the body is ignored: prices come from D1, the payer from the session.
  const result = await checkout(c.var.deps, {
    userId: c.var.userId,
    openid: c.var.openid,
    items,
    attach,
    clientIp: clientIp(c.req.header("cf-connecting-ip")),
    origin: new URL(c.req.url).origin,
    idempotencyKey,
  });
  // A replay through Idempotency-Key answers exactly like the original request (201).
  return c.json({ order: orderJson(result.order, result.items), payment: result.payment }, 201);
});

orderRoutes.get("/orders", async (c) => {
  const limit = limitParam(c.req.query("limit"));
  const rows = await listOrdersForUser(c.env.DB, c.var.userId, limit, decodeOrderCursor(c.req.query("cursor")));
  const items = await getOrderItems(c.env.DB, rows.map((r) => r.out_trade_no));
  const last = rows.at(-1);
  return c.json({
    orders: rows.map((r) => orderJson(r, items.get(r.out_trade_no) ?? [])),
    nextCursor: rows.length === limit && last ? encodeCursor([last.created_at, last.out_trade_no]) : null,
  });
});

orderRoutes.get("/orders/:outTradeNo", async (c) => {
  const order = await ownOrder(c.var.deps, c.var.userId, c.req.param("outTradeNo"), true);
  // The shipping state, so the mini program can show "shipped" (tracking numbers included).
  const shipments = (await getShipmentsForOrders(c.env.DB, [order.out_trade_no])).get(order.out_trade_no) ?? [];
  return c.json({ order: await withItems(c.env.DB, order), shipments: shipments.map(shipmentJson) });
});

orderRoutes.post("/orders/:outTradeNo/payment", async (c) => {
  const order = await ownOrder(c.var.deps, c.var.userId, c.req.param("outTradeNo"), false);
  return c.json({ payment: await ensurePayment(c.var.deps, order) });
});

orderRoutes.post("/orders/:outTradeNo/cancel", async (c) => {
  const order = await ownOrder(c.var.deps, c.var.userId, c.req.param("outTradeNo"), false);
  const closed = await cancelOrder(c.var.deps, order);
  return c.json({ order: await withItems(c.env.DB, closed) });
});

async function ownOrder(deps: AppEnv["Variables"]["deps"], userId: string, outTradeNo: string, confirm: boolean): Promise<OrderRow> {
  if (!isValidOutTradeNo(outTradeNo)) throw notFound("order not found");
  const order = confirm
    ? await readOwnOrder(deps, userId, outTradeNo)
    : await getOrderForUser(deps.db, userId, outTradeNo);
  if (!order) throw notFound("order not found");
  return order;
}

async function withItems(db: D1Database, order: OrderRow) {
  return orderJson(order, (await getOrderItems(db, [order.out_trade_no])).get(order.out_trade_no) ?? []);
}

function parseItems(raw: unknown): CartLine[] {
  if (!Array.isArray(raw) || raw.length === 0) throw badRequest("items must be a non-empty array");
  if (raw.length > MAX_ITEMS) throw badRequest(`items must have at most ${MAX_ITEMS} entries`);
  const seen = new Set<string>();
  return raw.map((item: unknown, i) => {
    if (typeof item !== "object" || item === null) throw badRequest(`items[${i}] must be an object`);
    const { sku, quantity } = item as Record<string, unknown>;
    if (typeof sku !== "string" || !/^[\x21-\x7e]{1,64}$/.test(sku)) throw badRequest(`items[${i}].sku must be a product sku`);
    if (typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 1 || quantity > 999) {
      throw badRequest(`items[${i}].quantity must be an integer from 1 to 999`);
    }
    if (seen.has(sku)) throw badRequest(`items[${i}].sku "${sku}" appears twice; combine the quantities`);
    seen.add(sku);
    return { sku, quantity };
  });
}
