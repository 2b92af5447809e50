/**
 * D1 statements for `shipments` (uploads of shipping information to WeChat). Each status change is
 * one batch with its `applied` event (`shipment:<id>:UPLOADED|FAILED`), from which the merchant-event
 * trigger writes shipment.uploaded / shipment.failed in the same transaction.
 */
import type { LogisticsType, ShipmentItem } from "../miniprogram/shipping";
import { adminEventStatement } from "./events";
import { allInChunks, groupByOrder } from "./in-chunks";

export type ShipmentStatus = "PENDING" | "UPLOADED" | "FAILED";

export interface ShipmentRow {
  id: string;
  out_trade_no: string;
  logistics_type: LogisticsType;
  all_delivered: number | null;
  /** JSON ShipmentItem[] */
  items: string;
  status: ShipmentStatus;
  err_code: number | null;
  attempts: number;
  next_attempt_at: number;
  idempotency_key: string | null;
  created_at: number;
  uploaded_at: number | null;
  updated_at: number;
}

export interface NewShipment {
  id: string;
  outTradeNo: string;
  logisticsType: LogisticsType;
  allDelivered: boolean | null;
  items: ShipmentItem[];
  idempotencyKey: string | null;
  now: number;
}

/**
 * Inserts a PENDING shipment and, in the same batch, the admin's `admin_shipment` event (only if the
 * shipment was inserted); false when the Idempotency-Key already has one for this order.
 */
export async function insertShipment(db: D1Database, s: NewShipment, audit: { actor: string; transactionId: string | null }): Promise<boolean> {
  const [insert] = await db.batch([
    db
      .prepare(
        `INSERT OR IGNORE INTO shipments (id, out_trade_no, logistics_type, all_delivered, items, status, next_attempt_at, idempotency_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', ?6, ?7, ?6, ?6)`,
      )
      .bind(s.id, s.outTradeNo, s.logisticsType, s.allDelivered === null ? null : s.allDelivered ? 1 : 0, JSON.stringify(s.items), s.now, s.idempotencyKey),
    adminEventStatement(db, {
      kind: "admin_shipment", actor: audit.actor, outTradeNo: s.outTradeNo, transactionId: audit.transactionId, shipmentId: s.id,
      detail: { logistics_type: s.logisticsType, items: s.items.length }, createdAt: s.now,
    }, { table: "shipments", id: s.id }),
  ]);
  return insert?.meta.changes === 1;
}

export function getShipment(db: D1Database, id: string): Promise<ShipmentRow | null> {
  return db.prepare("SELECT * FROM shipments WHERE id = ?1").bind(id).first<ShipmentRow>();
}

export function findShipmentByIdempotencyKey(db: D1Database, outTradeNo: string, key: string): Promise<ShipmentRow | null> {
  return db.prepare("SELECT * FROM shipments WHERE out_trade_no = ?1 AND idempotency_key = ?2").bind(outTradeNo, key).first<ShipmentRow>();
}

/** Shipments of these orders, grouped by order, oldest first. */
export async function getShipmentsForOrders(db: D1Database, outTradeNos: readonly string[]): Promise<Map<string, ShipmentRow[]>> {
  return groupByOrder(await allInChunks<ShipmentRow>(db, outTradeNos, (nos) => `SELECT * FROM shipments WHERE out_trade_no IN (${nos}) ORDER BY out_trade_no, created_at, id`));
}

/** Claims a PENDING, due shipment for one upload attempt (not due again for `leaseMs`). */
export function claimShipment(db: D1Database, id: string, now: number, leaseMs: number): Promise<ShipmentRow | null> {
  return db
    .prepare("UPDATE shipments SET next_attempt_at = ?3 WHERE id = ?1 AND status = 'PENDING' AND next_attempt_at <= ?2 RETURNING *")
    .bind(id, now, now + leaseMs)
    .first<ShipmentRow>();
}

/** PENDING shipments due before `now`, oldest due first (the cron's retries). */
export async function listDueShipmentIds(db: D1Database, now: number, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT id FROM shipments WHERE status = 'PENDING' AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2")
    .bind(now, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** A transient failure: tried again at `nextAttemptAt`. */
export async function deferShipment(db: D1Database, id: string, now: number, nextAttemptAt: number): Promise<void> {
  await db.prepare("UPDATE shipments SET attempts = attempts + 1, next_attempt_at = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'PENDING'").bind(id, nextAttemptAt, now).run();
}

/**
 * PENDING → UPLOADED | FAILED with its applied event, in one batch. Returns the row as the batch left it.
 */
export async function finishShipment(
  db: D1Database,
  f: { id: string; status: "UPLOADED" | "FAILED"; errCode: number | null; transactionId: string | null; now: number; detail: Record<string, unknown> },
): Promise<ShipmentRow | null> {
  const [, , select] = await db.batch([
    db
      .prepare(
        `UPDATE shipments SET status = ?2, err_code = ?3, attempts = attempts + 1, uploaded_at = CASE WHEN ?2 = 'UPLOADED' THEN ?4 ELSE NULL END, updated_at = ?4
         WHERE id = ?1 AND status = 'PENDING'`,
      )
      .bind(f.id, f.status, f.errCode, f.now),
    db
      .prepare(
        `INSERT OR IGNORE INTO events (identity, kind, verdict, out_trade_no, transaction_id, shipment_id, detail, created_at)
         SELECT 'shipment:' || s.id || ':' || s.status, 'shipping', 'applied', s.out_trade_no, ?3, s.id, ?4, ?5
         FROM shipments s WHERE s.id = ?1 AND s.status = ?2`,
      )
      .bind(f.id, f.status, f.transactionId, JSON.stringify(f.detail), f.now),
    db.prepare("SELECT * FROM shipments WHERE id = ?1").bind(f.id),
  ]);
  return (select?.results[0] as ShipmentRow | undefined) ?? null;
}
