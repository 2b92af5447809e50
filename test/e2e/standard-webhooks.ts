// Standard Webhooks signing as the merchant-events contract states it, computed with node:crypto and
// nothing else: the tests sign deliveries with this, the example receiver verifies them with the
// standardwebhooks package, so neither side is checked against itself.
import { createHmac } from "node:crypto";

/** Unix seconds now. */
export const unixNow = () => Math.floor(Date.now() / 1000);

/** `v1,<base64 HMAC-SHA256(the key bytes behind whsec_, "id.timestamp.body")>`. */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** The headers the Worker sends with an event's body, signed now with `secret`. */
export function signedHeaders(secret: string, id: string, body: string, timestamp = unixNow()): Record<string, string> {
  return { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature(secret, id, timestamp, body) };
}
