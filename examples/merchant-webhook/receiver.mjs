// The merchant's side of merchant events: a Web-standard fetch handler that verifies each delivery
// with the `standardwebhooks` package (an implementation independent of the Worker's signing code),
// remembers every event id it accepted in a JSON-lines file (so a restart keeps its memory), and
// answers as the Worker's delivery rules expect: 2xx for an event it has (new or duplicate), 401 for a
// bad signature, 400 for a body that is not an event, 410 to say "stop sending". Plain Node ESM, no
// build step: `server.mjs` serves it over node:http; tests call `fetch` directly.
import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync } from "node:fs";
import { dirname } from "node:path";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

/** standardwebhooks refuses timestamps more than 5 minutes away from now; a receiver can only narrow that. */
const LIBRARY_TOLERANCE_SECONDS = 5 * 60;
/** Events are a few KiB; anything far larger is not one, and is refused before it is buffered. */
const MAX_BODY_BYTES = 256 * 1024;

/**
 * @typedef {{ id: string, type: string, createdAt: string, data: Record<string, any> }} MerchantEvent
 * @typedef {{ id: string | null, type: string | null, verified: boolean, duplicate: boolean, status: number }} Delivery
 * @typedef {{
 *   secret: string,
 *   previousSecret?: string | null,
 *   store?: string | null,
 *   log?: (line: string) => void,
 *   toleranceSeconds?: number,
 * }} ReceiverOptions
 * @typedef {{
 *   fetch(request: Request): Promise<Response>,
 *   events: MerchantEvent[],
 *   deliveries: Delivery[],
 *   failNext(n: number, status?: number): void,
 *   stopWith410(): void,
 * }} Receiver
 */

/**
 * Whether `value` is a Standard Webhooks secret as the Worker accepts it: `whsec_` followed by the
 * (canonical) base64 of 24 to 64 random bytes.
 * @param {unknown} value
 * @returns {value is string}
 */
export function isWebhookSecret(value) {
  if (typeof value !== "string" || !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  const key = Buffer.from(value.slice("whsec_".length), "base64");
  return key.length >= 24 && key.length <= 64 && `whsec_${key.toString("base64")}` === value;
}

/**
 * A verifier for one secret; a malformed secret fails here, by name, instead of as 401s for every
 * delivery.
 * @param {string} name for the error message
 * @param {unknown} value
 */
function verifierFor(name, value) {
  if (!isWebhookSecret(value)) throw new Error(`${name} must be whsec_ followed by the base64 of 24 to 64 random bytes`);
  return new Webhook(value);
}

/**
 * The request body as text, or null when it is larger than `limit` bytes (read no further).
 * @param {Request} request
 * @param {number} limit
 */
async function readBody(request, limit) {
  if (Number(request.headers.get("content-length")) > limit) return null;
  if (!request.body) return "";
  const chunks = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The event in a verified body, or a sentence saying why it is not one. The body's id must be the
 * signed webhook-id: that id is what the receiver dedupes on.
 * @param {string} body
 * @param {string} webhookId
 * @returns {{ event: MerchantEvent } | { problem: string }}
 */
function parseEvent(body, webhookId) {
  let value;
  try {
    value = JSON.parse(body);
  } catch {
    return { problem: "the body is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { problem: "the body is not a JSON object" };
  for (const field of ["id", "type", "createdAt"]) {
    if (typeof value[field] !== "string" || value[field] === "") return { problem: `"${field}" is missing or not a string` };
  }
  if (typeof value.data !== "object" || value.data === null || Array.isArray(value.data)) return { problem: `"data" is missing or not an object` };
  if (value.id !== webhookId) return { problem: "the body's id is not the webhook-id header" };
  return { event: value };
}

/**
 * One line for the terminal: type, id, order number and the amounts (integer fen) the event carries.
 * @param {MerchantEvent} event
 */
export function describeEvent(event) {
  const { order, refund, shipment, anomaly } = event.data;
  const outTradeNo = order?.outTradeNo ?? refund?.outTradeNo ?? shipment?.outTradeNo ?? anomaly?.outTradeNo;
  const fields = {
    outTradeNo,
    status: order?.status,
    totalFee: order?.totalFee,
    refundedFee: order?.refundedFee,
    outRefundNo: refund?.outRefundNo,
    refundFee: refund?.refundFee,
    refundStatus: refund?.status,
    anomaly: anomaly?.kind,
  };
  const shown = Object.entries(fields).filter(([, v]) => v !== undefined && v !== null);
  return [event.type, event.id, ...shown.map(([k, v]) => `${k}=${v}`)].join(" ");
}

/**
 * The event ids already accepted, from a JSON-lines file (one `{"receivedAt","event"}` per line),
 * and a function that appends one more. A last line without its newline that does not parse is a
 * write cut short by a crash: that delivery was never acknowledged (the sender retries it), so the
 * line is cut off the file. Any other unreadable line is an error: better to refuse to start than to
 * forget events.
 * @param {string | null | undefined} file
 */
function openStore(file) {
  /** @type {MerchantEvent[]} */
  const events = [];
  if (!file) return { events, append: (/** @type {MerchantEvent} */ _event) => {} };
  mkdirSync(dirname(file), { recursive: true });
  let text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let event;
    try {
      event = JSON.parse(line).event;
    } catch {}
    if (typeof event?.id === "string") events.push(event);
    else if (i !== lines.length - 1) throw new Error(`${file}:${i + 1} is not a stored event: fix that line or move the file away`);
    else {
      text = text.slice(0, text.length - line.length);
      truncateSync(file, Buffer.byteLength(text));
    }
  });
  let startNewLine = text !== "" && !text.endsWith("\n");
  return {
    events,
    /** Appends synchronously: the 2xx is sent only once the line is written. */
    append(/** @type {MerchantEvent} */ event) {
      appendFileSync(file, `${startNewLine ? "\n" : ""}${JSON.stringify({ receivedAt: new Date().toISOString(), event })}\n`);
      startNewLine = false;
    },
  };
}

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/**
 * A merchant's webhook receiver as a fetch handler. Every POST, whatever its path, is a delivery.
 * @param {ReceiverOptions} options
 *   `secret` / `previousSecret`: `whsec_…`; a delivery is accepted when one of its signatures matches
 *   either (the previous one only while the merchant rotates). `store`: JSON-lines file of accepted
 *   events (null: memory only). `log`: one line per delivery (default console.log). `toleranceSeconds`:
 *   how old or new webhook-timestamp may be, 1 to 300 (default 300, standardwebhooks' own limit).
 * @returns {Receiver}
 */
export function createReceiver({ secret, previousSecret = null, store = null, log = (line) => console.log(line), toleranceSeconds = LIBRARY_TOLERANCE_SECONDS }) {
  const verifiers = [verifierFor("secret", secret), ...(previousSecret ? [verifierFor("previousSecret", previousSecret)] : [])];
  if (!Number.isInteger(toleranceSeconds) || toleranceSeconds < 1 || toleranceSeconds > LIBRARY_TOLERANCE_SECONDS) {
    throw new Error(`toleranceSeconds must be an integer from 1 to ${LIBRARY_TOLERANCE_SECONDS} (standardwebhooks refuses anything older anyway)`);
  }
  const saved = openStore(store);
  const events = [...saved.events];
  const seen = new Set(events.map((e) => e.id));
  /** @type {Delivery[]} */
  const deliveries = [];
  let failures = { left: 0, status: 503 };
  let gone = false;

  /** Throws WebhookVerificationError unless a signature matches a secret within the tolerance. */
  function verify(body, headers) {
    const timestamp = headers["webhook-timestamp"];
    if (timestamp !== undefined && !/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError("Invalid webhook-timestamp");
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) throw new WebhookVerificationError("Message timestamp outside the tolerance");
    let lastError;
    for (const verifier of verifiers) {
      try {
        return verifier.verify(body, headers, { jsonParse: false });
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  /** @param {Request} request */
  async function handle(request) {
    if (request.method !== "POST") return new Response("POST merchant events here\n", { status: 405, headers: { allow: "POST" } });
    const headers = Object.fromEntries(request.headers);
    /** @type {Delivery} */
    const delivery = { id: headers["webhook-id"] ?? null, type: null, verified: false, duplicate: false, status: 0 };
    deliveries.push(delivery);
    const who = delivery.id ?? "(no webhook-id)";
    const answer = (status, body, line) => {
      delivery.status = status;
      if (line) log(`[merchant] ${line}`);
      return json(status, body);
    };

    const body = await readBody(request, MAX_BODY_BYTES);
    let rejection = null;
    if (body === null) rejection = "body too large";
    else {
      try {
        verify(body, headers);
        delivery.verified = true;
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        rejection = error.message;
      }
    }
    const parsed = delivery.verified ? parseEvent(/** @type {string} */ (body), /** @type {string} */ (delivery.id)) : null;
    if (parsed && "event" in parsed) delivery.type = parsed.event.type;

    // The merchant's own state comes first, whatever the delivery: stopped, or (in tests) "down".
    if (gone) return answer(410, { ok: false, error: "gone: stop sending events" }, `410 ${who}: stopped receiving events`);
    if (failures.left > 0) {
      failures.left--;
      return answer(failures.status, { ok: false, error: "failing on purpose (failNext)" }, `${failures.status} ${who}: failNext, not stored`);
    }
    if (body === null) return answer(413, { ok: false, error: "body too large" }, `413 ${who}: body over ${MAX_BODY_BYTES} bytes`);
    if (!delivery.verified) return answer(401, { ok: false, error: `bad signature: ${rejection}` }, `401 ${who}: ${rejection}, not stored`);
    if (!parsed || "problem" in parsed) return answer(400, { ok: false, error: `not an event: ${parsed?.problem}` }, `400 ${who}: not an event (${parsed?.problem})`);

    const { event } = parsed;
    if (seen.has(event.id)) {
      delivery.duplicate = true;
      return answer(200, { ok: true, duplicate: true }, `duplicate ${event.type} ${event.id} (already stored)`);
    }
    // No await between the check above and these lines: two copies arriving together cannot both pass.
    try {
      saved.append(event);
    } catch (error) {
      // Not stored, so not acknowledged: the sender retries once the store works again.
      return answer(500, { ok: false, error: "could not store the event" }, `500 ${who}: could not store it (${error.code ?? error.message})`);
    }
    seen.add(event.id);
    events.push(event);
    return answer(200, { ok: true, duplicate: false }, describeEvent(event));
  }

  return {
    fetch: handle,
    events,
    deliveries,
    failNext(n, status = 503) {
      if (!Number.isInteger(n) || n < 0) throw new Error("failNext: n must be a non-negative integer");
      if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error("failNext: status must be an HTTP status (100-599)");
      failures = { left: n, status };
    },
    stopWith410() {
      gone = true;
    },
  };
}
