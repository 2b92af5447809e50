/**
 * D1 statements for mini-program message pushes: each accepted push is recorded once (a replay
 * inserts nothing), and a settlement sets the order's settled_at once, with its `applied` event
 * (`settled:<out_trade_no>`, from which the trigger writes order.settled), all in one batch.
 */
import type { OrderRow } from "./orders";

export interface PushRecord {
  identity: string;
  event: string;
  transactionId: string | null;
  detail: Record<string, string>;
  now: number;
}

/** Records a push; returns whether it was new (false: a replay, to be ignored). */
export async function recordPush(db: D1Database, push: PushRecord, outTradeNo: string | null): Promise<boolean> {
  const result = await db
    .prepare("INSERT OR IGNORE INTO push_messages (identity, event, transaction_id, out_trade_no, detail, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
    .bind(push.identity, push.event, push.transactionId, outTradeNo, JSON.stringify(push.detail), push.now)
    .run();
  return result.meta.changes === 1;
}

/**
 * Records a settlement push and settles the order (settled_at, once) with its event, in one batch.
 * Returns whether the push was new and whether this call settled the order.
 */
export async function recordSettlement(db: D1Database, push: PushRecord, order: OrderRow, settledAt: number): Promise<{ fresh: boolean; settled: boolean }> {
  const [insert, update] = await db.batch([
    db
      .prepare("INSERT OR IGNORE INTO push_messages (identity, event, transaction_id, out_trade_no, detail, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(push.identity, push.event, push.transactionId, order.out_trade_no, JSON.stringify(push.detail), push.now),
    db.prepare("UPDATE orders SET settled_at = ?2, updated_at = ?3 WHERE out_trade_no = ?1 AND settled_at IS NULL").bind(order.out_trade_no, settledAt, push.now),
    db
      .prepare(
        `INSERT OR IGNORE INTO events (identity, kind, verdict, out_trade_no, transaction_id, detail, created_at)
         SELECT 'settled:' || ?1, 'miniprogram_push', 'applied', ?1, ?2, ?3, ?4
         WHERE EXISTS (SELECT 1 FROM orders WHERE out_trade_no = ?1 AND settled_at = ?5)`,
      )
      .bind(order.out_trade_no, order.transaction_id, JSON.stringify({ settlement_time: push.detail.settlement_time ?? null }), push.now, settledAt),
  ]);
  return { fresh: insert?.meta.changes === 1, settled: update?.meta.changes === 1 };
}
