/** D1 statements for `orders` and `order_items`. One function per statement (or per atomic batch). */
import type { PayApi } from "../config";
import { allInChunks, groupByOrder } from "./in-chunks";

export type OrderStatus = "NOTPAY" | "PAID" | "CLOSED" | "PAYERROR" | "REFUNDED";

export interface OrderRow {
  out_trade_no: string;
  user_id: string;
  openid: string;
  status: OrderStatus;
  total_fee: number;
  description: string;
  attach: string | null;
  sign_type: "MD5" | "HMAC-SHA256";
  client_ip: string;
  notify_url: string;
  time_start: string;
  time_expire: string;
  created_at: number;
  expires_at: number;
  prepay_id: string | null;
  prepay_at: number | null;
  paid_at: number | null;
  transaction_id: string | null;
  refunded_fee: number;
  last_query_at: number | null;
  updated_at: number;
  /** When WeChat settled the payment to the merchant (settlement message push), or null. */
  settled_at: number | null;
  /** The WeChat Pay API the order was placed with; everything about it keeps using that one. */
  api: PayApi;
}

export interface OrderItemRow {
  out_trade_no: string;
  line: number;
  sku: string;
  name: string;
  quantity: number;
  price_fen: number;
  fulfilment: Fulfilment;
}

/** How a product reaches the buyer: shipped, or virtual (an order of only virtual items ships itself). */
export type Fulfilment = "physical" | "virtual";

export interface NewOrder {
  outTradeNo: string;
  userId: string;
  openid: string;
  totalFee: number;
  description: string;
  attach: string | null;
  signType: "MD5" | "HMAC-SHA256";
  api: PayApi;
  clientIp: string;
  notifyUrl: string;
  timeStart: string;
  timeExpire: string;
  createdAt: number;
  expiresAt: number;
  items: { sku: string; name: string; quantity: number; priceFen: number; fulfilment: Fulfilment }[];
  idempotency: { key: string; requestHash: string } | null;
}

/**
 * Commits the order, its items and (optionally) its idempotency key in one transaction, before
 * WeChat is ever called. A concurrent request with the same idempotency key fails on the key's
 * primary key and rolls the whole order back.
 */
export async function insertOrder(db: D1Database, order: NewOrder): Promise<void> {
  const statements = [
    db
      .prepare(
        `INSERT INTO orders (out_trade_no, user_id, openid, status, total_fee, description, attach, sign_type,
           client_ip, notify_url, time_start, time_expire, created_at, expires_at, updated_at, api)
         VALUES (?1, ?2, ?3, 'NOTPAY', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?12, ?14)`,
      )
      .bind(
        order.outTradeNo, order.userId, order.openid, order.totalFee, order.description, order.attach,
        order.signType, order.clientIp, order.notifyUrl, order.timeStart, order.timeExpire, order.createdAt,
        order.expiresAt, order.api,
      ),
    ...order.items.map((item, line) =>
      db
        .prepare("INSERT INTO order_items (out_trade_no, line, sku, name, quantity, price_fen, fulfilment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(order.outTradeNo, line, item.sku, item.name, item.quantity, item.priceFen, item.fulfilment),
    ),
  ];
  if (order.idempotency) {
    statements.push(
      db
        .prepare("INSERT INTO idempotency_keys (user_id, key, request_hash, out_trade_no, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(order.userId, order.idempotency.key, order.idempotency.requestHash, order.outTradeNo, order.createdAt),
    );
  }
  await db.batch(statements);
}

export function getOrder(db: D1Database, outTradeNo: string): Promise<OrderRow | null> {
  return db.prepare("SELECT * FROM orders WHERE out_trade_no = ?1").bind(outTradeNo).first<OrderRow>();
}

/** The order only if it belongs to `userId`. */
export function getOrderForUser(db: D1Database, userId: string, outTradeNo: string): Promise<OrderRow | null> {
  return db.prepare("SELECT * FROM orders WHERE out_trade_no = ?1 AND user_id = ?2").bind(outTradeNo, userId).first<OrderRow>();
}

/** Items of several orders at once, grouped by out_trade_no. */
export async function getOrderItems(db: D1Database, outTradeNos: readonly string[]): Promise<Map<string, OrderItemRow[]>> {
  return groupByOrder(await allInChunks<OrderItemRow>(db, outTradeNos, (nos) => `SELECT * FROM order_items WHERE out_trade_no IN (${nos}) ORDER BY out_trade_no, line`));
}

/** The order a WeChat transaction paid, if any. */
export function getOrderByTransactionId(db: D1Database, transactionId: string): Promise<OrderRow | null> {
  return db.prepare("SELECT * FROM orders WHERE transaction_id = ?1").bind(transactionId).first<OrderRow>();
}

/** Keyset page position: the last row's (created_at, out_trade_no). */
export interface OrderCursor {
  createdAt: number;
  outTradeNo: string;
}

/** A user's orders, newest first. */
export async function listOrdersForUser(db: D1Database, userId: string, limit: number, cursor: OrderCursor | null): Promise<OrderRow[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM orders WHERE user_id = ?1
         AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND out_trade_no < ?3))
       ORDER BY created_at DESC, out_trade_no DESC LIMIT ?4`,
    )
    .bind(userId, cursor?.createdAt ?? null, cursor?.outTradeNo ?? "", limit)
    .all<OrderRow>();
  return results;
}

/** All orders (admin), optionally of one status, newest first. */
export async function listOrders(db: D1Database, status: OrderStatus | null, limit: number, cursor: OrderCursor | null): Promise<OrderRow[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM orders WHERE (?1 IS NULL OR status = ?1)
         AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND out_trade_no < ?3))
       ORDER BY created_at DESC, out_trade_no DESC LIMIT ?4`,
    )
    .bind(status, cursor?.createdAt ?? null, cursor?.outTradeNo ?? "", limit)
    .all<OrderRow>();
  return results;
}

/** Records a prepay_id, only while the order is still payable. */
export async function savePrepayId(db: D1Database, outTradeNo: string, prepayId: string, now: number): Promise<boolean> {
  const result = await db
    .prepare("UPDATE orders SET prepay_id = ?2, prepay_at = ?3, updated_at = ?3 WHERE out_trade_no = ?1 AND status = 'NOTPAY'")
    .bind(outTradeNo, prepayId, now)
    .run();
  return result.meta.changes === 1;
}

/**
 * Claims the right to call orderquery for an unpaid (NOTPAY or PAYERROR) order: at most once per
 * `intervalMs` per order, whichever Worker instance asks first (a conditional UPDATE is the lock).
 * PAYERROR is included because a failed attempt can be followed by a successful payment.
 */
export async function claimQuerySlot(db: D1Database, outTradeNo: string, now: number, intervalMs: number): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE orders SET last_query_at = ?2 WHERE out_trade_no = ?1 AND status IN ('NOTPAY', 'PAYERROR')
         AND (last_query_at IS NULL OR last_query_at <= ?3)`,
    )
    .bind(outTradeNo, now, now - intervalMs)
    .run();
  return result.meta.changes === 1;
}

/**
 * Unpaid (NOTPAY or PAYERROR) orders for the scheduled job: created before `createdBefore` (old enough to query) or past
 * their expiry, and not checked since `checkedBefore`. Never-checked orders first, oldest first; then
 * the least recently checked, so orders that stay NOTPAY cannot starve newer ones.
 */
export async function listOrdersToReconcile(
  db: D1Database,
  input: { createdBefore: number; now: number; checkedBefore: number; limit: number },
): Promise<OrderRow[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM orders WHERE status IN ('NOTPAY', 'PAYERROR') AND (created_at <= ?1 OR expires_at <= ?2)
         AND (last_query_at IS NULL OR last_query_at <= ?3)
       ORDER BY COALESCE(last_query_at, 0), created_at, out_trade_no LIMIT ?4`,
    )
    .bind(input.createdBefore, input.now, input.checkedBefore, input.limit)
    .all<OrderRow>();
  return results;
}

/** Orders with a payment recorded in [from, to) (epoch ms), for the daily bill. */
export async function listOrdersPaidBetween(db: D1Database, from: number, to: number): Promise<OrderRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM orders WHERE paid_at >= ?1 AND paid_at < ?2 AND transaction_id IS NOT NULL ORDER BY paid_at, out_trade_no")
    .bind(from, to)
    .all<OrderRow>();
  return results;
}

/** Orders by out_trade_no (any number; queried in chunks under D1's 100 bound parameters). */
export function getOrdersByNos(db: D1Database, outTradeNos: readonly string[]): Promise<OrderRow[]> {
  return allInChunks<OrderRow>(db, outTradeNos, (nos) => `SELECT * FROM orders WHERE out_trade_no IN (${nos})`);
}
