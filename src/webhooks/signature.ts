/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature` is
 * `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, one per secret separated by a space
 * (the current and, during a rotation, the previous secret), so a receiver holding either verifies.
 * Keys are the bytes behind `whsec_…` (decoded by config.ts) and imported once per isolate.
 */

const encoder = new TextEncoder();
const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

function base64(bytes: ArrayBuffer): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The three Standard Webhooks headers for one delivery of `body` as event `id` at `timestamp` (Unix s). */
export async function webhookHeaders(id: string, timestamp: number, body: string, secrets: readonly Uint8Array[]): Promise<Record<string, string>> {
  const signed = encoder.encode(`${id}.${timestamp}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => `v1,${base64(await crypto.subtle.sign("HMAC", await hmacKey(secret), signed))}`),
  );
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signatures.join(" ") };
}
