/**
 * The merchant's endpoint in the workerd tests: the example receiver (examples/merchant-webhook,
 * which verifies every delivery with the `standardwebhooks` package) runs in the vitest Node process
 * and is the Worker's outbound network for MERCHANT_HOST (vitest.config.ts routes it), plus a small
 * control surface (the RECEIVER service binding) so tests can read what arrived and make it fail.
 */
import { createReceiver } from "../examples/merchant-webhook/receiver.mjs";

export const MERCHANT_HOST = "merchant.test";
/** A local-only Standard Webhooks secret for the tests (and its rotation partner). */
export const TEST_WEBHOOK_SECRET = "whsec_dGVzdC1vbmx5LXdlYmhvb2stc2VjcmV0LTAxMjM0NTY3";
export const TEST_WEBHOOK_SECRET_PREVIOUS = "whsec_cHJldmlvdXMtdGVzdC13ZWJob29rLXNlY3JldC0wMTIz";

type Receiver = ReturnType<typeof createReceiver>;

/** The receiver and its control API: GET /deliveries, GET /events, POST /fail {n,status}, POST /gone, POST /reset. */
export function createTestReceiver() {
  const make = () => createReceiver({ secret: TEST_WEBHOOK_SECRET, store: null, log: () => {} });
  let receiver: Receiver = make();
  const json = (value: unknown) => new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });
  return {
    /** The merchant's endpoint, as the Worker's fetch reaches it. */
    fetch: (request: Request) => receiver.fetch(request),
    /** Test control (the RECEIVER binding). */
    async control(request: Request): Promise<Response> {
      const { pathname } = new URL(request.url);
      const route = `${request.method} ${pathname}`;
      if (route === "GET /deliveries") return json(receiver.deliveries);
      if (route === "GET /events") return json(receiver.events);
      if (route === "POST /fail") {
        const { n, status } = (await request.json()) as { n: number; status?: number };
        receiver.failNext(n, status);
        return json({ ok: true });
      }
      if (route === "POST /gone") {
        receiver.stopWith410();
        return json({ ok: true });
      }
      if (route === "POST /reset") {
        receiver = make();
        return json({ ok: true });
      }
      return new Response("not found", { status: 404 });
    },
  };
}
