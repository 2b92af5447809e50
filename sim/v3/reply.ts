// How the simulator answers API v3 calls: compact JSON (or no body: 204), a Request-ID, and — on every
// success and on business errors — the Wechatpay-Timestamp/-Nonce/-Signature/-Serial headers signed over
// the raw body (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-verification.html).
// Errors are WeChat's `{"code", "message", "detail"?}` with the HTTP status carrying the outcome
// (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/basic-rules.html).
import { randomBytes } from "node:crypto";
import { SCHEME, responseMessage, signRsa } from "./crypto.ts";
import type { Signer } from "./trust.ts";

/** What a v3 handler answers, before it is signed and turned into a Response. */
export interface V3Reply {
  status: number;
  /** the body as JSON (serialized compactly, as WeChat does); absent = no body */
  json?: unknown;
  /** a raw body instead of JSON (the bill file) */
  bytes?: Uint8Array;
  contentType?: string;
  /** carries the Wechatpay-* signature headers (not: authentication failures, malformed requests, the bill file) */
  signed: boolean;
}

/** A refusal thrown by a handler or a body check: answered with its reply. */
export class V3Refusal extends Error {
  readonly reply: V3Reply;
  constructor(reply: V3Reply) {
    super(`${reply.status} ${(reply.json as { code?: string } | undefined)?.code ?? ""}`);
    this.reply = reply;
  }
}

/** A JSON success (200 by default), signed. */
export function ok(json: unknown, status = 200): V3Reply {
  return { status, json, signed: true };
}

/** 204 No Content, signed over the empty body. */
export function noContent(): V3Reply {
  return { status: 204, signed: true };
}

/** WeChat's error shape `{code, message, detail?}`; business errors are signed, authentication failures not. */
export function v3Error(status: number, code: string, message: string, detail?: unknown, signed = true): V3Reply {
  return { status, json: detail === undefined ? { code, message } : { code, message, detail }, signed };
}

/** A 400 PARAM_ERROR naming the field (a JSON Pointer into the body, or a query/path parameter name). */
export function paramError(field: string, issue: string, value?: unknown, location: "body" | "query" | "path" = "body"): V3Refusal {
  const detail: Record<string, unknown> = { field, issue, location };
  if (value !== undefined) detail.value = value;
  return new V3Refusal(v3Error(400, "PARAM_ERROR", `参数错误：${field} ${issue}`, detail));
}

/** The body text of a reply, exactly as sent and signed ("" when there is none). */
export function bodyText(reply: V3Reply): string {
  return reply.json === undefined ? "" : JSON.stringify(reply.json);
}

/** Wechatpay-* headers signing `body` with `signer` at `timestamp` (Unix seconds) and `nonce`. */
export function signatureHeaders(signer: Signer, timestamp: string, nonce: string, body: string): Record<string, string> {
  return {
    "Wechatpay-Nonce": nonce,
    "Wechatpay-Signature": signRsa(responseMessage(timestamp, nonce, body), signer.privateKey),
    "Wechatpay-Timestamp": timestamp,
    "Wechatpay-Serial": signer.serial,
    "Wechatpay-Signature-Type": SCHEME,
  };
}

/** A response nonce: 32 hex characters, as WeChat sends them. */
export function responseNonce(): string {
  return randomBytes(16).toString("hex");
}

/** A Request-ID shaped like WeChat's (every v3 response carries one). */
export function requestId(): string {
  return randomBytes(21).toString("hex").toUpperCase() + "-0";
}

/**
 * The Response for a reply: `headers` are the signature headers (or {} when unsigned), computed by the
 * caller so a fault can spoil them first.
 */
export function toResponse(reply: V3Reply, headers: Record<string, string>): Response {
  const h = new Headers({ "Request-ID": requestId(), ...headers });
  let body: BodyInit | null = null;
  if (reply.bytes) {
    body = new Uint8Array(reply.bytes);
    h.set("Content-Type", reply.contentType ?? "application/octet-stream");
  } else if (reply.json !== undefined) {
    body = bodyText(reply);
    h.set("Content-Type", "application/json; charset=utf-8");
  }
  return new Response(reply.status === 204 ? null : body, { status: reply.status, headers: h });
}
