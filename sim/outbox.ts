// Outbox-mode helper for test harnesses (vitest with miniflare): take the simulator's due notifications,
// deliver them with the caller's transport (e.g. SELF.fetch into the Worker), report each reply back.
// No Node imports: usable from Node and from inside workerd (through the SIM service binding).

export interface OutboxDelivery {
  id: string;
  kind: "pay" | "refund" | "push";
  url: string;
  body: string;
  /** send it with this Content-Type: text/xml, or application/json for JSON message pushes and API v3 callbacks */
  contentType: string;
  /** API v3 callbacks: the Wechatpay-* signature headers to send with it (signed for this attempt) */
  headers?: Record<string, string>;
  /** a push's Event (trade_manage_order_settlement, …); null for pay / refund notifications */
  event: string | null;
  attempt: number;
}

export interface OutboxResult {
  delivery: OutboxDelivery;
  status: number | null;
  body: string | null;
  error: string | null;
  acknowledged: boolean;
  nextAttemptAt: number | null;
}

export interface DrainOptions {
  /** origin used to reach the simulator's control API; any host works. Default http://sim.test */
  base?: string;
  /** stop after this many take/deliver rounds. Default 50 */
  maxRounds?: number;
  /** deliver the deliveries of one round concurrently (true, default) or one after another */
  concurrent?: boolean;
  /** take at most this many per round */
  max?: number;
}

/**
 * Repeatedly take due deliveries, deliver them with `deliver` (which gets a ready POST Request with the
 * delivery's Content-Type and, for API v3 callbacks, its signature headers) and report the replies, until
 * none is due. Returns every attempt made.
 */
export async function drainOutbox(
  simFetch: (request: Request) => Promise<Response>,
  deliver: (request: Request) => Promise<Response>,
  opts: DrainOptions = {},
): Promise<OutboxResult[]> {
  const base = opts.base ?? "http://sim.test";
  const results: OutboxResult[] = [];
  for (let round = 0; round < (opts.maxRounds ?? 50); round++) {
    const takeRes = await simFetch(new Request(`${base}/__sim/deliveries/take`, { method: "POST", body: JSON.stringify(opts.max === undefined ? {} : { max: opts.max }) }));
    const { deliveries } = (await takeRes.json()) as { deliveries: OutboxDelivery[] };
    if (deliveries.length === 0) break;
    const one = async (d: OutboxDelivery): Promise<OutboxResult> => {
      let report: { status?: number; body?: string; error?: string };
      try {
        const res = await deliver(new Request(d.url, { method: "POST", headers: { "Content-Type": d.contentType, ...d.headers }, body: d.body }));
        report = { status: res.status, body: await res.text() };
      } catch (e) {
        report = { error: String((e as Error)?.message ?? e) };
      }
      const r = await simFetch(new Request(`${base}/__sim/deliveries/${encodeURIComponent(d.id)}/result`, { method: "POST", body: JSON.stringify(report) }));
      const v = (await r.json()) as { acknowledged: boolean; nextAttemptAt: number | null };
      return { delivery: d, status: report.status ?? null, body: report.body ?? null, error: report.error ?? null, acknowledged: v.acknowledged, nextAttemptAt: v.nextAttemptAt };
    };
    if (opts.concurrent === false) for (const d of deliveries) results.push(await one(d));
    else results.push(...(await Promise.all(deliveries.map(one))));
  }
  return results;
}
