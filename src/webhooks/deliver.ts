/**
 * One delivery attempt of one merchant event: claim it (a conditional UPDATE, so two consumers
 * holding the same id never both send), POST it signed to MERCHANT_WEBHOOK_URL within 10 s, record
 * the attempt, and decide what comes next: any 2xx → delivered; 410 Gone → failed at once (the
 * receiver asked us to stop); anything else → pending again after the backoff of schedule.ts, or
 * failed once the retry window is over.
 */
import type { WebhookConfig } from "../config";
import { logEvent } from "../log";
import { claimDelivery, getMerchantEvent, recordAttempt, type AttemptRow } from "../store/merchant-events";
import { TransportError, withDeadline, type Fetcher } from "../wechatpay/http";
import { merchantEventBody } from "./payload";
import { nextRetryDelaySeconds } from "./schedule";
import { webhookHeaders } from "./signature";

/** A receiver must answer within this. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** How long a claimed event is not due again: longer than one attempt can take. */
const CLAIM_LEASE_MS = 30_000;

export interface DeliveryDeps {
  db: D1Database;
  webhook: WebhookConfig;
  now: () => Date;
  fetch: Fetcher;
}

export type DeliveryOutcome =
  | { result: "delivered"; status: number }
  | { result: "retry"; delaySeconds: number }
  | { result: "failed"; reason: "gone" | "retry_window_over" }
  /** Nothing sent: no URL configured, or the event is no longer pending (delivered, failed) or unknown. */
  | { result: "skipped"; reason: "no_url" | "not_due" };

export async function deliverMerchantEvent(deps: DeliveryDeps, id: string, via: AttemptRow["via"]): Promise<DeliveryOutcome> {
  const { url, secrets, retryBaseSeconds } = deps.webhook;
  if (!url) return { result: "skipped", reason: "no_url" };
  const now = deps.now().getTime();
  const event = await claimDelivery(deps.db, id, now, CLAIM_LEASE_MS);
  if (!event) {
    // Early (the Queue's clock and D1's disagree a little) or held by another attempt: ask again when
    // it is due, rather than leave it to the cron. Delivered, failed or unknown: nothing to do.
    const row = await getMerchantEvent(deps.db, id);
    if (row?.status === "pending" && row.next_attempt_at > now) return { result: "retry", delaySeconds: Math.ceil((row.next_attempt_at - now) / 1000) };
    return { result: "skipped", reason: "not_due" };
  }

  const body = merchantEventBody(event);
  const headers = await webhookHeaders(event.id, Math.floor(now / 1000), body, secrets);
  const started = Date.now();
  let statusCode: number | null = null;
  let errorClass: AttemptRow["error_class"] = null;
  try {
    statusCode = await withDeadline(DELIVERY_TIMEOUT_MS, async (signal) => {
      const res = await deps.fetch(
        new Request(url, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body, signal, redirect: "manual" }),
      );
      await res.body?.cancel();
      return res.status;
    });
    if (statusCode < 200 || statusCode > 299) errorClass = "http_status";
  } catch (error) {
    if (!(error instanceof TransportError)) throw error;
    errorClass = error.message === "timeout" ? "timeout" : "network";
  }
  const latencyMs = Date.now() - started;

  let outcome: DeliveryOutcome;
  if (errorClass === null) outcome = { result: "delivered", status: statusCode as number };
  else if (statusCode === 410) outcome = { result: "failed", reason: "gone" };
  else {
    const delay = nextRetryDelaySeconds(event.attempts - event.attempts_before_window + 1, retryBaseSeconds, now, event.retry_from);
    outcome = delay === null ? { result: "failed", reason: "retry_window_over" } : { result: "retry", delaySeconds: delay };
  }
  await recordAttempt(deps.db, {
    eventId: event.id,
    attemptedAt: now,
    statusCode,
    latencyMs,
    errorClass,
    via,
    status: outcome.result === "delivered" ? "delivered" : outcome.result === "failed" ? "failed" : "pending",
    nextAttemptAt: outcome.result === "retry" ? now + outcome.delaySeconds * 1000 : now,
  });
  logEvent("merchant_event_delivery", { id: event.id, type: event.type, attempt: event.attempts + 1, statusCode, errorClass, latencyMs, outcome: outcome.result });
  return outcome;
}
