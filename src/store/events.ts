/** D1 statements for the append-only `events` table. */

export type Verdict = "applied" | "anomaly";

export interface EventRow {
  id: number;
  identity: string;
  kind: string;
  verdict: Verdict;
  out_trade_no: string | null;
  transaction_id: string | null;
  out_refund_no: string | null;
  detail: string | null;
  created_at: number;
}

export interface NewEvent {
  /** Names the fact, e.g. `pay:<transaction_id>`: the same fact is recorded once, however often it is seen. */
  identity: string;
  kind: string;
  verdict: Verdict;
  outTradeNo?: string | null;
  transactionId?: string | null;
  outRefundNo?: string | null;
  detail?: Record<string, unknown> | null;
  createdAt: number;
}

/** An INSERT that records the event once per identity (duplicates are ignored, not errors). */
export function insertEventStatement(db: D1Database, event: NewEvent): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO events (identity, kind, verdict, out_trade_no, transaction_id, out_refund_no, detail, created_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
    )
    .bind(
      event.identity, event.kind, event.verdict, event.outTradeNo ?? null, event.transactionId ?? null,
      event.outRefundNo ?? null, event.detail ? JSON.stringify(event.detail) : null, event.createdAt,
    );
}

/** Records an event; returns whether it was new. */
export async function insertEvent(db: D1Database, event: NewEvent): Promise<boolean> {
  const result = await insertEventStatement(db, event).run();
  return result.meta.changes === 1;
}

export async function listEventsForOrder(db: D1Database, outTradeNo: string): Promise<EventRow[]> {
  const { results } = await db.prepare("SELECT * FROM events WHERE out_trade_no = ?1 ORDER BY id").bind(outTradeNo).all<EventRow>();
  return results;
}

/** Events newest first, optionally of one verdict, keyset-paginated by id. */
export async function listEvents(db: D1Database, verdict: Verdict | null, limit: number, beforeId: number | null): Promise<EventRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM events WHERE (?1 IS NULL OR verdict = ?1) AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3")
    .bind(verdict, beforeId, limit)
    .all<EventRow>();
  return results;
}
