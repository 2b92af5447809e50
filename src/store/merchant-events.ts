/**
 * D1 statements for the merchant-event outbox (`merchant_events`, written by the trigger of migration
 * 0003 in the same transaction as the change it reports) and its delivery attempts.
 */
import { adminEventStatement } from "./events";

export type MerchantEventStatus = "pending" | "delivered" | "failed";

export interface MerchantEventRow {
  seq: number;
  id: string;
  source: string;
  type: string;
  out_trade_no: string | null;
  /** JSON: `{order?, refund?, anomaly?}` as table rows (plus `items` on the order), as the change left them. */
  snapshot: string;
  created_at: number;
  status: MerchantEventStatus;
  attempts: number;
  next_attempt_at: number;
  retry_from: number;
  /** Attempts made before the current retry window (an admin's redelivery starts a new one). */
  attempts_before_window: number;
  last_attempt_at: number | null;
  last_status: number | null;
  delivered_at: number | null;
}

export interface AttemptRow {
  id: number;
  event_id: string;
  attempted_at: number;
  status_code: number | null;
  latency_ms: number;
  error_class: "timeout" | "network" | "http_status" | null;
  via: "queue" | "redeliver";
}

export function getMerchantEvent(db: D1Database, id: string): Promise<MerchantEventRow | null> {
  return db.prepare("SELECT * FROM merchant_events WHERE id = ?1").bind(id).first<MerchantEventRow>();
}

export async function listMerchantEventsForOrder(db: D1Database, outTradeNo: string): Promise<MerchantEventRow[]> {
  const { results } = await db.prepare("SELECT * FROM merchant_events WHERE out_trade_no = ?1 ORDER BY seq").bind(outTradeNo).all<MerchantEventRow>();
  return results;
}

/** Newest first, optionally of one status and/or type, keyset-paginated by seq. */
export async function listMerchantEvents(
  db: D1Database,
  filter: { status: MerchantEventStatus | null; type: string | null; beforeSeq: number | null; limit: number },
): Promise<MerchantEventRow[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM merchant_events WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR seq < ?3)
       ORDER BY seq DESC LIMIT ?4`,
    )
    .bind(filter.status, filter.type, filter.beforeSeq, filter.limit)
    .all<MerchantEventRow>();
  return results;
}

export async function listAttempts(db: D1Database, eventId: string): Promise<AttemptRow[]> {
  const { results } = await db.prepare("SELECT * FROM merchant_event_attempts WHERE event_id = ?1 ORDER BY id").bind(eventId).all<AttemptRow>();
  return results;
}

/**
 * Takes the Queue work created at or after `since` that nobody has sent yet, marking it sent at
 * `now` in the same statements (so of two concurrent requests only one sends an id): merchant events
 * (`evt_…`, only when `withEvents`: without a webhook URL they are not sent) and the automatic
 * shipments of virtual orders (`shp_…`, written by the payment's transaction), oldest first.
 */
export async function takeNewQueueWork(db: D1Database, since: number, now: number, withEvents: boolean, limit: number): Promise<string[]> {
  const [events, shipments] = await db.batch<{ id: string }>([
    db
      .prepare(
        `UPDATE merchant_events SET enqueued_at = ?2
         WHERE ?4 = 1 AND seq IN (SELECT seq FROM merchant_events WHERE status = 'pending' AND attempts = 0 AND enqueued_at IS NULL
                                  AND next_attempt_at >= ?1 ORDER BY seq LIMIT ?3)
         RETURNING id`,
      )
      .bind(since, now, limit, withEvents ? 1 : 0),
    db
      .prepare(
        `UPDATE shipments SET enqueued_at = ?2
         WHERE id IN (SELECT id FROM shipments WHERE status = 'PENDING' AND attempts = 0 AND idempotency_key = 'auto' AND enqueued_at IS NULL
                      AND created_at >= ?1 ORDER BY created_at LIMIT ?3)
         RETURNING id`,
      )
      .bind(since, now, limit),
  ]);
  return [...(events?.results ?? []), ...(shipments?.results ?? [])].map((r) => r.id);
}

/**
 * Ids of pending events whose delivery was due before `dueBefore` (the Queue should have delivered
 * them by now: a lost send, a lost message), oldest due first; each is stamped due again at `now`, so
 * the next cron run does not send it again while this send is on its way.
 */
export async function takeOverdueIds(db: D1Database, dueBefore: number, now: number, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare(
      `UPDATE merchant_events SET next_attempt_at = ?2
       WHERE seq IN (SELECT seq FROM merchant_events WHERE status = 'pending' AND next_attempt_at < ?1 ORDER BY next_attempt_at, seq LIMIT ?3)
       RETURNING id`,
    )
    .bind(dueBefore, now, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/**
 * Claims a pending event for one delivery attempt: only if it is due, and it is not due again for
 * `leaseMs` (a second consumer holding the same id does nothing meanwhile). Returns the row, or null.
 */
export async function claimDelivery(db: D1Database, id: string, now: number, leaseMs: number): Promise<MerchantEventRow | null> {
  return db
    .prepare(
      `UPDATE merchant_events SET next_attempt_at = ?3
       WHERE id = ?1 AND status = 'pending' AND next_attempt_at <= ?2 RETURNING *`,
    )
    .bind(id, now, now + leaseMs)
    .first<MerchantEventRow>();
}

export interface AttemptRecord {
  eventId: string;
  attemptedAt: number;
  statusCode: number | null;
  latencyMs: number;
  errorClass: AttemptRow["error_class"];
  via: AttemptRow["via"];
  /** What the event becomes, and when it is due again while pending. */
  status: MerchantEventStatus;
  nextAttemptAt: number;
}

/** Records one attempt and its consequence in one batch. */
export async function recordAttempt(db: D1Database, a: AttemptRecord): Promise<void> {
  await db.batch([
    db
      .prepare(
        `INSERT INTO merchant_event_attempts (event_id, attempted_at, status_code, latency_ms, error_class, via)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
      )
      .bind(a.eventId, a.attemptedAt, a.statusCode, a.latencyMs, a.errorClass, a.via),
    db
      .prepare(
        `UPDATE merchant_events SET attempts = attempts + 1, last_attempt_at = ?2, last_status = ?3, status = ?4,
           next_attempt_at = ?5, delivered_at = CASE WHEN ?4 = 'delivered' THEN ?2 ELSE delivered_at END
         WHERE id = ?1`,
      )
      .bind(a.eventId, a.attemptedAt, a.statusCode, a.status, a.nextAttemptAt),
  ]);
}

/**
 * An admin's redelivery: pending again, due now, with a fresh retry window and backoff, and the
 * admin's `admin_redeliver` event in the same batch (only when the event exists). Returns the row, or null.
 */
export async function markForRedelivery(db: D1Database, id: string, now: number, actor: string): Promise<MerchantEventRow | null> {
  const [update] = await db.batch<MerchantEventRow>([
    db
      .prepare("UPDATE merchant_events SET status = 'pending', next_attempt_at = ?2, retry_from = ?2, attempts_before_window = attempts WHERE id = ?1 RETURNING *")
      .bind(id, now),
    adminEventStatement(db, { kind: "admin_redeliver", actor, detail: { event_id: id }, createdAt: now }, { table: "merchant_events", id }),
  ]);
  return update?.results[0] ?? null;
}
