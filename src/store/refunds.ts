/**
 * D1 statements for `refunds`. The money guards live in the SQL: a refund row is only inserted when
 * the order is PAID and the amount fits the refundable remainder (one statement, so concurrent
 * requests can never exceed the total), and a refund only moves forward from PROCESSING or CHANGE,
 * in one batch with the order's refunded_fee and the `applied` event.
 */
import { AUDIT_ONLY } from "./events";
import { allInChunks } from "./in-chunks";
import type { OrderRow } from "./orders";

export type RefundStatus = "PROCESSING" | "SUCCESS" | "REFUNDCLOSE" | "CHANGE";

export interface RefundRow {
  out_refund_no: string;
  out_trade_no: string;
  refund_fee: number;
  status: RefundStatus;
  reason: string | null;
  refund_id: string | null;
  created_at: number;
  succeeded_at: number | null;
  /** Last change, or last time the scheduled job claimed the refund for a check (see claimRefundCheck). */
  updated_at: number;
  /** The admin request's Idempotency-Key, if it sent one. */
  idempotency_key: string | null;
}

/** A refund with the order fields needed to query or re-send it. */
export interface RefundWithOrder extends RefundRow {
  total_fee: number;
  sign_type: OrderRow["sign_type"];
  notify_url: string;
  transaction_id: string | null;
  /** The order's WeChat Pay API: its refunds are sent and queried with the same one. */
  api: OrderRow["api"];
}

/** Selects RefundWithOrder rows: refunds `r` joined with their order `o`; append WHERE/ORDER BY. */
const REFUND_WITH_ORDER = `SELECT r.*, o.total_fee, o.sign_type, o.notify_url, o.transaction_id, o.api FROM refunds r
       JOIN orders o ON o.out_trade_no = r.out_trade_no`;

export interface NewRefund {
  outRefundNo: string;
  outTradeNo: string;
  refundFee: number;
  reason: string | null;
  /** Unique per order when set (POST /admin/orders/:outTradeNo/refunds Idempotency-Key). */
  idempotencyKey: string | null;
  now: number;
  /** WeChat allows at most this many refunds per order. */
  maxRefunds: number;
  /** Who asked for it (routes/admin-auth.ts), recorded on its admin_refund event. */
  actor: string;
}

/** Refunds that still hold money: in flight (PROCESSING), done (SUCCESS) or abnormal but not final (CHANGE). */
const HOLDING = "('PROCESSING', 'SUCCESS', 'CHANGE')";

/**
 * Inserts the PROCESSING refund only if the order is PAID, has fewer than `maxRefunds` refunds and
 * `total_fee − held refunds ≥ refundFee`, all in ONE statement (D1 runs statements one at a time, so
 * two concurrent requests cannot both see the same remainder). The `applied` event is written in
 * the same transaction, only if the row now exists, with the admin who asked (it is the admin action's
 * audit event: `refund:<no>:PROCESSING` is no merchant event). Returns whether the refund was created.
 */
export async function insertRefund(db: D1Database, refund: NewRefund): Promise<boolean> {
  const [insert] = await db.batch([
    db
      .prepare(
        `INSERT INTO refunds (out_refund_no, out_trade_no, refund_fee, status, reason, idempotency_key, created_at, updated_at)
         SELECT ?1, o.out_trade_no, ?3, 'PROCESSING', ?4, ?7, ?5, ?5 FROM orders o
         WHERE o.out_trade_no = ?2 AND o.status = 'PAID'
           AND (SELECT COUNT(*) FROM refunds WHERE out_trade_no = ?2) < ?6
           AND o.total_fee - (SELECT COALESCE(SUM(refund_fee), 0) FROM refunds WHERE out_trade_no = ?2 AND status IN ${HOLDING}) >= ?3`,
      )
      .bind(refund.outRefundNo, refund.outTradeNo, refund.refundFee, refund.reason, refund.now, refund.maxRefunds, refund.idempotencyKey),
    db
      .prepare(
        `INSERT OR IGNORE INTO events ${AUDIT_ONLY} (identity, kind, verdict, out_trade_no, transaction_id, out_refund_no, detail, created_at, actor)
         SELECT 'refund:' || r.out_refund_no || ':PROCESSING', 'admin_refund', 'applied', r.out_trade_no, o.transaction_id,
           r.out_refund_no, ?2, ?3, ?4
         FROM refunds r JOIN orders o ON o.out_trade_no = r.out_trade_no WHERE r.out_refund_no = ?1`,
      )
      .bind(refund.outRefundNo, JSON.stringify({ refund_fee: refund.refundFee, reason: refund.reason }), refund.now, refund.actor),
  ]);
  return insert?.meta.changes === 1;
}

/** How much of an order is held by refunds, and how many refunds it has (to explain a refusal). */
export async function refundTotals(db: D1Database, outTradeNo: string): Promise<{ count: number; held: number }> {
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS count, COALESCE(SUM(CASE WHEN status IN ${HOLDING} THEN refund_fee ELSE 0 END), 0) AS held
       FROM refunds WHERE out_trade_no = ?1`,
    )
    .bind(outTradeNo)
    .first<{ count: number; held: number }>();
  return row ?? { count: 0, held: 0 };
}

/** The refund created on this order with this Idempotency-Key, if any. */
export function findRefundByIdempotencyKey(db: D1Database, outTradeNo: string, key: string): Promise<RefundRow | null> {
  return db.prepare("SELECT * FROM refunds WHERE out_trade_no = ?1 AND idempotency_key = ?2").bind(outTradeNo, key).first<RefundRow>();
}

export function getRefund(db: D1Database, outRefundNo: string): Promise<RefundRow | null> {
  return db.prepare("SELECT * FROM refunds WHERE out_refund_no = ?1").bind(outRefundNo).first<RefundRow>();
}

export async function listRefundsForOrder(db: D1Database, outTradeNo: string): Promise<RefundRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM refunds WHERE out_trade_no = ?1 ORDER BY created_at, out_refund_no")
    .bind(outTradeNo)
    .all<RefundRow>();
  return results;
}

/** Records WeChat's refund_id once (the first accepted reply or query wins; later ones must agree). */
export async function saveRefundId(db: D1Database, outRefundNo: string, refundId: string): Promise<boolean> {
  const result = await db
    .prepare("UPDATE refunds SET refund_id = ?2 WHERE out_refund_no = ?1 AND refund_id IS NULL")
    .bind(outRefundNo, refundId)
    .run();
  return result.meta.changes === 1;
}

export interface RefundFacts {
  outRefundNo: string;
  status: "SUCCESS" | "REFUNDCLOSE" | "CHANGE";
  refundId: string | null;
  succeededAt: number | null;
  source: string;
  detail: Record<string, unknown>;
  now: number;
}

/**
 * PROCESSING/CHANGE → SUCCESS | REFUNDCLOSE | CHANGE, in one batch (one transaction):
 * 1. the conditional UPDATE of the refund (the race guard: only one caller changes it);
 * 2. on SUCCESS, the order's refunded_fee recomputed as the sum of its SUCCESS refunds, and REFUNDED
 *    once that reaches the total. The WHERE clause only writes when the sum moved, so a duplicate or
 *    a lost race writes nothing, and the amount can never be counted twice (the CHECK
 *    refunded_fee <= total_fee is the last line of defence: it aborts the whole batch);
 * 3. the `applied` event `refund:<out_refund_no>:<status>`, only if the refund now has that status;
 *    the UNIQUE identity records each fact once.
 * Returns whether this call changed the refund, and the refund row as the batch left it.
 */
export async function markRefund(db: D1Database, facts: RefundFacts): Promise<{ changed: boolean; refund: RefundRow | null }> {
  const successSum = `(SELECT COALESCE(SUM(r.refund_fee), 0) FROM refunds r WHERE r.out_trade_no = orders.out_trade_no AND r.status = 'SUCCESS')`;
  const statements = [
    db
      .prepare(
        `UPDATE refunds SET status = ?2, refund_id = COALESCE(refund_id, ?3),
           succeeded_at = CASE WHEN ?2 = 'SUCCESS' THEN ?4 ELSE NULL END, updated_at = ?5
         WHERE out_refund_no = ?1 AND status IN ('PROCESSING', 'CHANGE') AND status <> ?2`,
      )
      .bind(facts.outRefundNo, facts.status, facts.refundId, facts.succeededAt, facts.now),
  ];
  if (facts.status === "SUCCESS") {
    statements.push(
      db
        .prepare(
          `UPDATE orders SET refunded_fee = ${successSum},
             status = CASE WHEN orders.status = 'PAID' AND ${successSum} >= orders.total_fee THEN 'REFUNDED' ELSE orders.status END,
             updated_at = ?2
           WHERE out_trade_no = (SELECT out_trade_no FROM refunds WHERE out_refund_no = ?1) AND refunded_fee <> ${successSum}`,
        )
        .bind(facts.outRefundNo, facts.now),
    );
  }
  statements.push(
    db
      .prepare(
        `INSERT OR IGNORE INTO events (identity, kind, verdict, out_trade_no, transaction_id, out_refund_no, detail, created_at)
         SELECT 'refund:' || r.out_refund_no || ':' || r.status, ?2, 'applied', r.out_trade_no, o.transaction_id,
           r.out_refund_no, ?3, ?4
         FROM refunds r JOIN orders o ON o.out_trade_no = r.out_trade_no WHERE r.out_refund_no = ?1 AND r.status = ?5`,
      )
      .bind(facts.outRefundNo, facts.source, JSON.stringify(facts.detail), facts.now, facts.status),
    db.prepare("SELECT * FROM refunds WHERE out_refund_no = ?1").bind(facts.outRefundNo),
  );
  const results = await db.batch(statements);
  const select = results.at(-1);
  return { changed: results[0]?.meta.changes === 1, refund: (select?.results[0] as RefundRow | undefined) ?? null };
}

/**
 * Refunds the scheduled job should look at: PROCESSING ones requested before `createdBefore` and
 * never checked (updated_at still equals created_at) or not checked since `processingBefore`; CHANGE
 * ones (abnormal, waiting for a human on the merchant platform) not since `changeBefore`. Least
 * recently checked first, so a refund that stays open cannot starve the others.
 */
export async function listRefundsToReconcile(db: D1Database, input: RefundCheckWindow & { limit: number }): Promise<RefundWithOrder[]> {
  const { results } = await db
    .prepare(`${REFUND_WITH_ORDER} WHERE ${DUE_FOR_CHECK("r.")} ORDER BY r.updated_at, r.created_at, r.out_refund_no LIMIT ?4`)
    .bind(input.createdBefore, input.processingBefore, input.changeBefore, input.limit)
    .all<RefundWithOrder>();
  return results;
}

/** When a refund is due for a check by the scheduled job (epoch ms cut-offs). */
export interface RefundCheckWindow {
  /** PROCESSING refunds younger than this wait (RECONCILE_DELAY_SECONDS). */
  createdBefore: number;
  /** A PROCESSING refund checked after this is not checked again yet. */
  processingBefore: number;
  /** A CHANGE refund checked after this is not checked again yet. */
  changeBefore: number;
}

/** The due condition over ?1 createdBefore, ?2 processingBefore, ?3 changeBefore. */
const DUE_FOR_CHECK = (t: string) =>
  `((${t}status = 'PROCESSING' AND ${t}created_at <= ?1 AND (${t}updated_at = ${t}created_at OR ${t}updated_at <= ?2))
    OR (${t}status = 'CHANGE' AND ${t}updated_at <= ?3))`;

/**
 * Claims a refund for one check by the scheduled job (a conditional UPDATE of updated_at is the
 * lock): of two runs at once, only one queries WeChat about it.
 */
export async function claimRefundCheck(db: D1Database, input: RefundCheckWindow & { outRefundNo: string; now: number }): Promise<boolean> {
  const result = await db
    .prepare(`UPDATE refunds SET updated_at = ?5 WHERE out_refund_no = ?4 AND ${DUE_FOR_CHECK("")}`)
    .bind(input.createdBefore, input.processingBefore, input.changeBefore, input.outRefundNo, input.now)
    .run();
  return result.meta.changes === 1;
}

/** Refunds requested in [from, to) (epoch ms), for the daily bill. */
export async function listRefundsCreatedBetween(db: D1Database, from: number, to: number): Promise<RefundWithOrder[]> {
  const { results } = await db
    .prepare(
      `${REFUND_WITH_ORDER}
       WHERE r.created_at >= ?1 AND r.created_at < ?2 ORDER BY r.created_at, r.out_refund_no`,
    )
    .bind(from, to)
    .all<RefundWithOrder>();
  return results;
}

/** Refunds by out_refund_no (any number; queried in chunks under D1's 100 bound parameters). */
export function getRefundsByNos(db: D1Database, outRefundNos: readonly string[]): Promise<RefundWithOrder[]> {
  return allInChunks<RefundWithOrder>(db, outRefundNos, (nos) => `${REFUND_WITH_ORDER} WHERE r.out_refund_no IN (${nos})`);
}
