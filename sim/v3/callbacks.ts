// API v3 callbacks (payment and refund notices): `POST notify_url` with the JSON envelope
// {id, create_time, resource_type "encrypt-resource", event_type, summary, resource{original_type,
// algorithm AEAD_AES_256_GCM, ciphertext, associated_data, nonce}}, the resource encrypted with the APIv3
// key, signed per attempt with the key the trust mode picks, retried on WeChat's schedule until HTTP
// 200/204 (https://pay.weixin.qq.com/docs/merchant/apis/h5-payment/payment-notice.html,
// https://pay.weixin.qq.com/doc/v3/merchant/4012075420). Spoiled variants (probes, unknown serials, stale
// timestamps, edited bodies, broken resources) are what a merchant's verifier must refuse.
import { randomUUID } from "node:crypto";
import type { NotifyMode } from "../payment.ts";
import type { Order, Refund, SimState } from "../state.ts";
import { beijingRfc3339 } from "../time.ts";
import { aeadEncrypt, v3Nonce } from "./crypto.ts";
import { responseNonce, signatureHeaders } from "./reply.ts";
import { refundNoticeJson, transactionJson } from "./resources.ts";
import { HEADER_SPOILS, spoilHeaders } from "./spoil.ts";
import type { HeaderSpoil } from "./spoil.ts";

/** Every way the notify control can spoil a callback (the header spoils, then the body and time spoils). */
export const CALLBACK_SPOILS = [...HEADER_SPOILS, "stale_timestamp", "tampered_body", "reserialized_body", "gcm_tag", "wrong_aad"] as const;
export type CallbackSpoil = (typeof CALLBACK_SPOILS)[number];

/** The parts of a callback envelope (pure inputs: the vendored vectors pin the output byte for byte). */
export interface CallbackParts {
  id: string;
  createTime: string;
  eventType: string;
  summary: string;
  originalType: "transaction" | "refund";
  associatedData: string;
  nonce: string;
  plaintext: string;
  apiV3Key: string;
}

/** The callback body: compact JSON in WeChat's key order, the resource encrypted with AEAD_AES_256_GCM. */
export function callbackBody(p: CallbackParts, indent?: number): string {
  const envelope = {
    id: p.id,
    create_time: p.createTime,
    resource_type: "encrypt-resource",
    event_type: p.eventType,
    summary: p.summary,
    resource: {
      original_type: p.originalType,
      algorithm: "AEAD_AES_256_GCM",
      ciphertext: aeadEncrypt(p.apiV3Key, p.nonce, p.associatedData, p.plaintext),
      associated_data: p.associatedData,
      nonce: p.nonce,
    },
  };
  return JSON.stringify(envelope, null, indent);
}

/** How a notification is sent: how many copies, spoiled or not, and what its retries carry. */
export interface CallbackOptions {
  mode: Exclude<NotifyMode, "none">;
  copies: number;
  spoil?: CallbackSpoil;
  /** a spoiled callback: "stop" = that one send only (default); "genuine" = retried, signed correctly (as WeChat does after a probe) */
  then?: "stop" | "genuine";
  /** stale_timestamp: how old the timestamp is. Default 360 s */
  ageSeconds?: number;
  /** a genuine callback whose body is indented JSON (signed over exactly those bytes) */
  pretty?: boolean;
}

/** One notice to send: its envelope parts (without the key) and where it goes. */
interface Notice {
  url: string;
  outTradeNo: string;
  outRefundNo: string | null;
  eventType: string;
  summary: string;
  originalType: "transaction" | "refund";
  plaintext: string;
}

/** The body WeChat signs and the body it sends for one attempt (they differ only for the body-editing spoils). */
function bodies(parts: CallbackParts, spoil: CallbackSpoil | null, pretty: boolean): { signed: string; sent: string } {
  const genuine = callbackBody(parts, pretty ? 2 : undefined);
  const edited = (edit: (env: { create_time: string; resource: { ciphertext: string; associated_data: string } }) => void) => {
    const env = JSON.parse(callbackBody(parts));
    edit(env);
    return JSON.stringify(env);
  };
  switch (spoil) {
    case "tampered_body": // one digit of create_time changed after signing
      return { signed: genuine, sent: edited((e) => (e.create_time = e.create_time.replace(/\d(?=\+|Z)/, (d) => String((Number(d) + 1) % 10)))) };
    case "reserialized_body": // the same JSON, re-serialised with other whitespace after signing
      return { signed: genuine, sent: JSON.stringify(JSON.parse(genuine), null, 1) };
    case "gcm_tag": { // signed correctly, but the last tag byte of the ciphertext flipped
      const body = edited((e) => {
        const ct = Buffer.from(e.resource.ciphertext, "base64");
        ct[ct.length - 1] = (ct[ct.length - 1] as number) ^ 0x01;
        e.resource.ciphertext = ct.toString("base64");
      });
      return { signed: body, sent: body };
    }
    case "wrong_aad": { // signed correctly, but associated_data is not what the resource was encrypted with
      const body = edited((e) => (e.resource.associated_data = e.resource.associated_data === "transaction" ? "refund" : "transaction"));
      return { signed: body, sent: body };
    }
    default:
      return { signed: genuine, sent: genuine };
  }
}

/** Enqueues a notice (copies per `mode`), each attempt signed afresh; returns the delivery ids. */
function enqueue(s: SimState, n: Notice, o: CallbackOptions): string[] {
  const parts: CallbackParts = {
    id: randomUUID(),
    createTime: beijingRfc3339(s.now()),
    eventType: n.eventType,
    summary: n.summary,
    originalType: n.originalType,
    associatedData: n.originalType,
    nonce: v3Nonce(12),
    plaintext: n.plaintext,
    apiV3Key: s.v3.apiV3Key,
  };
  const spoil = o.spoil ?? null;
  const then = o.then ?? "stop";
  const kind = s.v3.nextCallbackKind();
  const prepare = (attempt: number) => {
    const spoiled = spoil !== null && (then === "stop" || attempt === 1) ? spoil : null;
    const { signed, sent } = bodies(parts, spoiled, o.pretty === true);
    const age = spoiled === "stale_timestamp" ? (o.ageSeconds ?? 360) : 0;
    const timestamp = String(Math.floor(s.wallClock() / 1000) - age);
    let headers = signatureHeaders(s.v3.callbackSignerFor(kind), timestamp, responseNonce(), signed);
    if (spoiled !== null && (HEADER_SPOILS as readonly string[]).includes(spoiled)) headers = spoilHeaders(headers, spoiled as HeaderSpoil);
    return { headers, body: sent };
  };
  const delivery = {
    kind: n.originalType === "transaction" ? ("pay" as const) : ("refund" as const),
    api: "v3" as const,
    url: n.url,
    body: callbackBody(parts, o.pretty ? 2 : undefined),
    contentType: "application/json",
    event: n.eventType,
    outTradeNo: n.outTradeNo,
    outRefundNo: n.outRefundNo,
    prepare,
    ...(spoil !== null && then === "stop" ? { retries: [] } : {}),
  };
  return s.notifier.enqueueCopies(delivery, o.mode, o.copies);
}

/** The TRANSACTION.SUCCESS callback of a paid order (or, for a probe, of an order as if paid: `resource`). */
export function enqueueTransactionCallback(s: SimState, order: Order, o: CallbackOptions, resource?: Record<string, unknown>): string[] {
  const plaintext = JSON.stringify(resource ?? transactionJson(s, order));
  return enqueue(s, { url: order.notifyUrl, outTradeNo: order.outTradeNo, outRefundNo: null, eventType: "TRANSACTION.SUCCESS", summary: "支付成功", originalType: "transaction", plaintext }, o);
}

const REFUND_EVENTS = { SUCCESS: ["REFUND.SUCCESS", "退款成功"], REFUNDCLOSE: ["REFUND.CLOSED", "退款关闭"], CHANGE: ["REFUND.ABNORMAL", "退款异常"] } as const;

/** The REFUND.SUCCESS / REFUND.CLOSED / REFUND.ABNORMAL callback of a finished refund with a notify URL. */
export function enqueueRefundCallback(s: SimState, r: Refund, mode: "normal" | "duplicate" | "concurrent", copies: number, spoil?: Omit<CallbackOptions, "mode" | "copies">): string[] {
  const order = s.orders.get(r.outTradeNo) as Order;
  const [eventType, summary] = REFUND_EVENTS[r.status as keyof typeof REFUND_EVENTS] ?? REFUND_EVENTS.SUCCESS;
  const plaintext = JSON.stringify(refundNoticeJson(order, r));
  return enqueue(s, { url: r.notifyUrl as string, outTradeNo: r.outTradeNo, outRefundNo: r.outRefundNo, eventType, summary, originalType: "refund", plaintext }, { mode, copies, ...spoil });
}
