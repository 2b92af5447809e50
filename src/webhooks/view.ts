/** JSON shapes of merchant events and their delivery attempts for the admin API. */
import type { AttemptRow, MerchantEventRow } from "../store/merchant-events";
import { merchantEventPayload } from "./payload";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** One row of GET /admin/webhooks/events (and of the admin order view). */
export function merchantEventSummaryJson(row: MerchantEventRow) {
  return {
    id: row.id,
    type: row.type,
    createdAt: iso(row.created_at),
    status: row.status,
    attempts: row.attempts,
    lastAttemptAt: iso(row.last_attempt_at),
    lastStatus: row.last_status,
  };
}

/** GET /admin/webhooks/events/:id: the summary, when it is due or was delivered, and what is sent. */
export function merchantEventJson(row: MerchantEventRow) {
  return {
    ...merchantEventSummaryJson(row),
    outTradeNo: row.out_trade_no,
    deliveredAt: iso(row.delivered_at),
    nextAttemptAt: row.status === "pending" ? iso(row.next_attempt_at) : null,
    payload: merchantEventPayload(row),
  };
}

export function merchantEventAttemptJson(row: AttemptRow) {
  return {
    attemptedAt: iso(row.attempted_at),
    statusCode: row.status_code,
    latencyMs: row.latency_ms,
    errorClass: row.error_class,
    via: row.via,
  };
}
