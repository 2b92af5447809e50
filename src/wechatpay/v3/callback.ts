/**
 * Payment and refund notifications (https://pay.weixin.qq.com/docs/merchant/apis/h5-payment/payment-notice.html,
 * https://pay.weixin.qq.com/doc/v3/merchant/4012075420): verify the signature over the raw body,
 * then parse the envelope `{id, create_time, event_type, resource_type, summary, resource}`, then
 * decrypt `resource` with the APIv3 key and read the transaction or refund inside.
 *
 * Replies: success is HTTP 200 with no body; a refusal is 4xx/5xx with `{"code":"FAIL","message":…}`,
 * after which WeChat retries (15 times over about 24 hours). A probe or any other failure must be
 * refused, never acknowledged.
 */
import { decryptResource, type DecryptFailureReason, type EncryptedResource } from "./aead";
import { isJsonObject, ModelError, parseJsonObject, readRefund, readTransaction, type Refund, type Transaction } from "./models";
import { checkApiV3Key } from "./pem";
import { verifySignature, type TrustStore, type VerifyFailureReason } from "./verify";

/** A generous cap for a notification body (they are a few KiB); read at most this much before verifying. */
export const MAX_CALLBACK_BYTES = 64 * 1024;

/** The envelope of every notification. */
export interface CallbackEnvelope {
  id: string;
  create_time: string;
  event_type: string;
  resource_type: string;
  summary: string;
  resource: EncryptedResource & { original_type?: string };
}

export type RefundEventType = "REFUND.SUCCESS" | "REFUND.ABNORMAL" | "REFUND.CLOSED";

/** A verified, decrypted notification. Unknown event types are `other`: acknowledge and ignore them. */
export type CallbackEvent =
  | { kind: "transaction"; id: string; eventType: "TRANSACTION.SUCCESS"; createTime: string; transaction: Transaction }
  | { kind: "refund"; id: string; eventType: RefundEventType; createTime: string; refund: Refund }
  | { kind: "other"; id: string; eventType: string; createTime: string };

/** Where a notification was refused: its signature, its envelope, its decryption, or the resource inside. */
export type CallbackFailure =
  | { ok: false; stage: "verify"; reason: VerifyFailureReason; serial?: string; message: string }
  | { ok: false; stage: "envelope"; reason: "malformed"; message: string }
  | { ok: false; stage: "decrypt"; reason: DecryptFailureReason; message: string }
  | { ok: false; stage: "resource"; reason: "malformed"; message: string };

export type CallbackResult = { ok: true; event: CallbackEvent; serial: string } | CallbackFailure;

/** Everything {@link openCallback} needs: the request's headers and raw body, the keys, our clock. */
export interface CallbackInput {
  headers: Headers;
  /** The raw body as received (`await request.text()` before anything parses it). */
  body: string;
  trust: TrustStore;
  /** The 32-character APIv3 key. */
  apiV3Key: string;
  now: Date;
}

const REFUND_STATUS_OF: Record<RefundEventType, Refund["status"]> = {
  "REFUND.SUCCESS": "SUCCESS",
  "REFUND.ABNORMAL": "ABNORMAL",
  "REFUND.CLOSED": "CLOSED",
};

/** Reads the envelope of a verified body; ModelError when it is not one. */
export function readEnvelope(body: string): CallbackEnvelope {
  const o = parseJsonObject(body, "notification");
  const resource = o.resource;
  for (const name of ["id", "create_time", "event_type", "resource_type"] as const) {
    if (typeof o[name] !== "string" || o[name] === "") throw new ModelError(`${name} must be a non-empty string`);
  }
  if (!isJsonObject(resource)) throw new ModelError("resource must be an object");
  for (const name of ["algorithm", "ciphertext", "nonce"] as const) {
    if (typeof resource[name] !== "string") throw new ModelError(`resource.${name} must be a string`);
  }
  for (const name of ["associated_data", "original_type"] as const) {
    if (resource[name] !== undefined && typeof resource[name] !== "string") throw new ModelError(`resource.${name} must be a string`);
  }
  if (o.resource_type !== "encrypt-resource") throw new ModelError("resource_type must be encrypt-resource");
  return {
    id: o.id as string,
    create_time: o.create_time as string,
    event_type: o.event_type as string,
    resource_type: o.resource_type,
    summary: typeof o.summary === "string" ? o.summary : "",
    resource: resource as unknown as CallbackEnvelope["resource"],
  };
}

/**
 * Verifies, parses and decrypts one notification. Never throws for anything in the request; a bad
 * APIv3 key (not 32 characters) is a configuration error and throws V3KeyError.
 */
export async function openCallback(input: CallbackInput): Promise<CallbackResult> {
  checkApiV3Key(input.apiV3Key); // a configuration error: refuse every notification the same way, loudly
  const verified = await verifySignature({ headers: input.headers, body: input.body, trust: input.trust, now: input.now });
  if (!verified.ok) return { ok: false, stage: "verify", reason: verified.reason, serial: verified.serial, message: verified.message };

  let envelope: CallbackEnvelope;
  try {
    envelope = readEnvelope(input.body);
  } catch (err) {
    return { ok: false, stage: "envelope", reason: "malformed", message: messageOf(err) };
  }
  const base = { id: envelope.id, createTime: envelope.create_time };
  const type = envelope.event_type;
  const isTransaction = type === "TRANSACTION.SUCCESS";
  const isRefund = Object.hasOwn(REFUND_STATUS_OF, type);
  if (!isTransaction && !isRefund) return { ok: true, serial: verified.serial, event: { kind: "other", eventType: type, ...base } };

  const expectedType = isTransaction ? "transaction" : "refund";
  const originalType = envelope.resource.original_type;
  if (originalType !== undefined && originalType !== expectedType) {
    return { ok: false, stage: "envelope", reason: "malformed", message: `${type} carries a ${originalType} resource` };
  }

  const opened = await decryptResource(envelope.resource, input.apiV3Key);
  if (!opened.ok) return { ok: false, stage: "decrypt", reason: opened.reason, message: opened.message };

  try {
    const resource = parseJsonObject(opened.plaintext, "resource");
    if (isTransaction) {
      const transaction = readTransaction(resource);
      if (transaction.trade_state !== "SUCCESS") throw new ModelError(`TRANSACTION.SUCCESS with trade_state ${transaction.trade_state}`);
      return { ok: true, serial: verified.serial, event: { kind: "transaction", eventType: "TRANSACTION.SUCCESS", ...base, transaction } };
    }
    const refundType = type as RefundEventType;
    const refund = readRefund(resource, "notification");
    if (refund.status !== REFUND_STATUS_OF[refundType]) throw new ModelError(`${refundType} with refund_status ${refund.status}`);
    return { ok: true, serial: verified.serial, event: { kind: "refund", eventType: refundType, ...base, refund } };
  } catch (err) {
    return { ok: false, stage: "resource", reason: "malformed", message: messageOf(err) };
  }
}

function messageOf(err: unknown): string {
  if (err instanceof ModelError) return err.message;
  throw err; // not a property of the input: a bug, let it surface
}

/** The success reply: HTTP 200, no body (https://pay.weixin.qq.com/doc/v3/merchant/4012075420). */
export function callbackAck(): Response {
  return new Response(null, { status: 200 });
}

/**
 * A refusal: `status` (4xx for a request that will never be accepted, 5xx for "try again later")
 * with `{"code":"FAIL","message":…}`. WeChat retries either way; the message is for its logs, so
 * keep it short and free of secrets.
 */
export function callbackRefusal(status: number, message: string): Response {
  if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError("a refusal is a 4xx or 5xx status");
  return new Response(JSON.stringify({ code: "FAIL", message }), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });
}
