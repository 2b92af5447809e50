// The retry schedule of merchant events: doubling from the base, each wait capped at 6 hours, no
// attempt later than 3 days after the event (or its redelivery).
import { describe, expect, it } from "vitest";
import { MAX_RETRY_DELAY_SECONDS, nextRetryDelaySeconds, RETRY_WINDOW_MS } from "../../src/webhooks/schedule";

describe("nextRetryDelaySeconds", () => {
  const start = Date.UTC(2026, 11, 2);
  it("doubles from the base: 30 s, 1 min, 2 min, 4 min …", () => {
    expect([1, 2, 3, 4, 5].map((n) => nextRetryDelaySeconds(n, 30, start, start))).toEqual([30, 60, 120, 240, 480]);
  });
  it("caps each wait at 6 hours", () => {
    expect(nextRetryDelaySeconds(10, 30, start, start)).toBe(15_360);
    expect(nextRetryDelaySeconds(11, 30, start, start)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(nextRetryDelaySeconds(60, 30, start, start)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(MAX_RETRY_DELAY_SECONDS).toBe(21_600);
  });
  it("gives up when the next attempt would fall more than 3 days after the window's start", () => {
    expect(RETRY_WINDOW_MS).toBe(3 * 86_400_000);
    const late = start + RETRY_WINDOW_MS - 3600_000;
    expect(nextRetryDelaySeconds(20, 30, late, start)).toBeNull();
    expect(nextRetryDelaySeconds(1, 30, late, start)).toBe(30);
  });
  it("the whole schedule from a 30 s base: about 20 attempts over 3 days, within the Queue's 100 retries", () => {
    let now = start;
    let attempts = 0;
    for (;;) {
      attempts++;
      const delay = nextRetryDelaySeconds(attempts, 30, now, start);
      if (delay === null) break;
      now += delay * 1000;
    }
    expect(now - start).toBeLessThanOrEqual(RETRY_WINDOW_MS);
    expect(attempts).toBeGreaterThan(15);
    expect(attempts).toBeLessThan(100);
  });
});
