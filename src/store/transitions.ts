/**
 * The conditional UPDATEs that move an order forward, each paired in one D1 batch (one transaction)
 * with the `applied` event that records it. The WHERE clauses are the race guards: whichever caller
 * (notify, query-on-read, scheduled job) commits first wins, every other one changes nothing.
 */
import type { OrderRow } from "./orders";

export interface PaidFacts {
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  paidAt: number;
  source: string;
  detail: Record<string, unknown>;
  now: number;
}

/**
 * NOTPAY/PAYERROR → PAID, only for the exact amount and only if no other transaction paid it.
 * Returns whether this call made the change, and the row as it is after the batch (same transaction,
 * so no second round trip is needed to classify a no-op).
 */
export async function markPaid(db: D1Database, facts: PaidFacts): Promise<{ changed: boolean; order: OrderRow | null }> {
  const [update, , select] = await db.batch([
    db
      .prepare(
        `UPDATE orders SET status = 'PAID', transaction_id = ?2, paid_at = ?3, updated_at = ?4
         WHERE out_trade_no = ?1 AND status IN ('NOTPAY', 'PAYERROR') AND total_fee = ?5 AND transaction_id IS NULL`,
      )
      .bind(facts.outTradeNo, facts.transactionId, facts.paidAt, facts.now, facts.totalFee),
    // Recorded only when the order now carries this transaction; the UNIQUE identity makes a
    // replay of the same transaction a no-op even if it gets this far.
    db
      .prepare(
        `INSERT OR IGNORE INTO events (identity, kind, verdict, out_trade_no, transaction_id, detail, created_at)
         SELECT 'pay:' || ?2, ?3, 'applied', ?1, ?2, ?4, ?5
         WHERE EXISTS (SELECT 1 FROM orders WHERE out_trade_no = ?1 AND transaction_id = ?2 AND status = 'PAID')`,
      )
      .bind(facts.outTradeNo, facts.transactionId, facts.source, JSON.stringify(facts.detail), facts.now),
    db.prepare("SELECT * FROM orders WHERE out_trade_no = ?1").bind(facts.outTradeNo),
  ]);
  return { changed: update?.meta.changes === 1, order: (select?.results[0] as OrderRow | undefined) ?? null };
}

export interface StatusFacts {
  outTradeNo: string;
  source: string;
  detail: Record<string, unknown>;
  now: number;
}

/** NOTPAY → PAYERROR (a failed payment attempt WeChat reported). */
export const markPayError = (db: D1Database, facts: StatusFacts) => markUnpaidAs(db, "PAYERROR", ["NOTPAY"], "payerror", facts);

/** NOTPAY/PAYERROR → CLOSED (closeorder succeeded, or WeChat reports the order CLOSED). */
export const markClosed = (db: D1Database, facts: StatusFacts) => markUnpaidAs(db, "CLOSED", ["NOTPAY", "PAYERROR"], "close", facts);

/**
 * Moves an unpaid order to `to` from one of `from`, with its applied event (identity
 * `<prefix>:<out_trade_no>`) in the same batch. The status literals are ours, never input.
 */
async function markUnpaidAs(
  db: D1Database,
  to: "PAYERROR" | "CLOSED",
  from: readonly ("NOTPAY" | "PAYERROR")[],
  identityPrefix: string,
  facts: StatusFacts,
): Promise<boolean> {
  const fromList = from.map((status) => `'${status}'`).join(", ");
  const [update] = await db.batch([
    db
      .prepare(`UPDATE orders SET status = '${to}', updated_at = ?2 WHERE out_trade_no = ?1 AND status IN (${fromList})`)
      .bind(facts.outTradeNo, facts.now),
    db
      .prepare(
        `INSERT OR IGNORE INTO events (identity, kind, verdict, out_trade_no, detail, created_at)
         SELECT ?5 || ':' || ?1, ?2, 'applied', ?1, ?3, ?4
         WHERE EXISTS (SELECT 1 FROM orders WHERE out_trade_no = ?1 AND status = '${to}')`,
      )
      .bind(facts.outTradeNo, facts.source, JSON.stringify(facts.detail), facts.now, identityPrefix),
  ]);
  return update?.meta.changes === 1;
}
