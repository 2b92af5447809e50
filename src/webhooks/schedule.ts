/**
 * When a failed delivery is tried again: exponential backoff from WEBHOOK_RETRY_BASE_SECONDS
 * (30 s by default: 30 s, 1 min, 2 min, …), each delay capped at 6 hours, for up to 3 days after the
 * event was created (or redelivered); after that the event is `failed`.
 */

/** No single wait is longer than this. */
export const MAX_RETRY_DELAY_SECONDS = 6 * 3600;
/** How long after its creation (or an admin's redelivery) an event is still retried. */
export const RETRY_WINDOW_MS = 3 * 24 * 3600_000;

/**
 * The delay before the next attempt after `failedAttempts` failures (1 after the first), or null when
 * the next attempt would fall outside the retry window that started at `windowStart`.
 */
export function nextRetryDelaySeconds(failedAttempts: number, baseSeconds: number, now: number, windowStart: number): number | null {
  const exponent = Math.min(failedAttempts - 1, 30); // 2^30 × base is far beyond the cap already
  const delay = Math.min(baseSeconds * 2 ** exponent, MAX_RETRY_DELAY_SECONDS);
  return now + delay * 1000 > windowStart + RETRY_WINDOW_MS ? null : delay;
}
