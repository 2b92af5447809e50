/**
 * Getting merchant events from the outbox (D1) onto the Queue. The trigger of migration 0003 writes
 * an event in the same transaction as every change; this module only sends ids:
 * - after a request or a cron run that wrote to `events`, the ids of the events it created are sent
 *   (through waitUntil, after the answer is decided: the notify path never waits for the Queue);
 * - the cron re-sends every pending event that was due more than a minute ago, so a failed send()
 *   or a lost message delays an event, never loses it.
 */
import { logEvent } from "../log";
import { AUDIT_ONLY } from "../store/events";
import { takeNewQueueWork, takeOverdueIds } from "../store/merchant-events";

/** Ids per Queue sendBatch (the Queue accepts up to 100 messages per batch). */
const SEND_BATCH = 100;
/** A pending event due longer ago than this was lost on its way: send it again. */
const RESEND_AFTER_MS = 60_000;

/** Whether a request or run wrote to `events` (then new merchant events may exist), and since when. */
export interface OutboxTracker {
  since: number;
  wrote: boolean;
}

/**
 * `db` that notes in `tracker` when a statement writing to `events` (all say `INTO events`) actually
 * inserted a row, alone or in a batch: only then can a merchant event have been created, so a
 * duplicate notification (whose INSERT OR IGNORE inserts nothing) costs no look for new events. An
 * admin action's audit event (marked AUDIT_ONLY) can never create one, so it is not tracked either.
 */
export function trackEventWrites<T extends D1Database>(db: T, tracker: OutboxTracker): T {
  const writesEvents = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        if (prop === "run") {
          return async () => {
            const result = await target.run();
            if (result.meta.changes > 0) tracker.wrote = true;
            return result;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    writesEvents.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") {
        return (query: string) => {
          const stmt = target.prepare(query);
          return query.includes("INTO events") && !query.includes(AUDIT_ONLY) ? wrap(stmt) : stmt;
        };
      }
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements.map((s) => writesEvents.get(s) ?? s));
          if (statements.some((s, i) => writesEvents.has(s) && (results[i]?.meta.changes ?? 0) > 0)) tracker.wrote = true;
          return results;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Sends the ids of the work created since `tracker.since` (merchant events when `withEvents`, and
 * automatic shipments), if anything was written. Never throws.
 */
export async function sendNewQueueWork(db: D1Database, queue: Queue | undefined, tracker: OutboxTracker, withEvents: boolean): Promise<number> {
  if (!tracker.wrote || !queue) return 0;
  try {
    const ids = await takeNewQueueWork(db, tracker.since, Date.now(), withEvents, SEND_BATCH);
    if (ids.length > 0) await queue.sendBatch(ids.map((id) => ({ body: id })));
    return ids.length;
  } catch (error) {
    // The cron re-sends what is still pending a minute from now.
    logEvent("merchant_event_send_failed", { error: error instanceof Error ? error.name : "Error" });
    return 0;
  }
}

/** Re-sends pending events overdue by more than a minute (cron). Returns how many. */
export async function resendOverdueEvents(db: D1Database, queue: Queue, now: number): Promise<number> {
  const ids = await takeOverdueIds(db, now - RESEND_AFTER_MS, now, SEND_BATCH);
  if (ids.length > 0) await queue.sendBatch(ids.map((id) => ({ body: id })));
  return ids.length;
}
