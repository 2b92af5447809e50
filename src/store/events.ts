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
  /** Who made an admin action ('token' or the Cloudflare Access identity); null for every other event. */
  actor: string | null;
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

/** The admin actions that record an audit event of their own (a refund's event is its PROCESSING fact). */
export type AdminEventKind = "admin_shipment" | "admin_product" | "admin_redeliver" | "admin_reconcile";

export interface AdminEvent {
  kind: AdminEventKind;
  /** 'token' or the Cloudflare Access identity (routes/admin-auth.ts). */
  actor: string;
  outTradeNo?: string | null;
  transactionId?: string | null;
  shipmentId?: string | null;
  /** What was done, small: never a secret, never the token. */
  detail: Record<string, unknown>;
  createdAt: number;
}

/**
 * Marks an admin action's audit INSERT in its SQL: such a row can never create a merchant event (its
 * identity, `admin_<what>:<uuid>` or a refund's `refund:<no>:PROCESSING`, matches none of the
 * trigger's patterns in migrations/0004, and its verdict is 'applied'), so the outbox tracker
 * (webhooks/outbox.ts) does not look for new ones after it.
 */
export const AUDIT_ONLY = "/* audit only */";

/**
 * The `applied` event of one admin action, with its actor and a unique identity. With `onlyIfRow`
 * it is written only when that row exists (and takes the row's out_trade_no when none is given), so
 * in the batch after the INSERT or UPDATE that makes it, the event exists exactly when the change
 * does (an ignored INSERT writes no event).
 */
export function adminEventStatement(
  db: D1Database,
  event: AdminEvent,
  onlyIfRow?: { table: "shipments" | "merchant_events"; id: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO events ${AUDIT_ONLY} (identity, kind, verdict, out_trade_no, transaction_id, shipment_id, detail, created_at, actor)
       ${onlyIfRow ? `SELECT ?1, ?2, 'applied', COALESCE(?3, r.out_trade_no), ?4, ?5, ?6, ?7, ?8 FROM ${onlyIfRow.table} r WHERE r.id = ?9` : "VALUES (?1, ?2, 'applied', ?3, ?4, ?5, ?6, ?7, ?8)"}`,
    )
    .bind(
      `${event.kind}:${crypto.randomUUID()}`, event.kind, event.outTradeNo ?? null, event.transactionId ?? null, event.shipmentId ?? null,
      JSON.stringify(event.detail), event.createdAt, event.actor, ...(onlyIfRow ? [onlyIfRow.id] : []),
    );
}
