/**
 * The v3 objects this service reads (a transaction, a refund), checked field by field: WeChat's
 * JSON is read only after its signature verified, but a payment decision still needs integers
 * where amounts are and strings where ids are, not whatever a changed API returns. Unknown fields
 * are ignored, as the API rules ask (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/basic-rules.html).
 * Field names stay WeChat's (snake_case) so they can be checked against the docs at a glance; an
 * absent optional field is `undefined`.
 */
import { parseRfc3339 } from "../time";

/** A verified body that does not have the shape this service relies on. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelError";
  }
}

type Json = Record<string, unknown>;

/** Whether `v` is a plain JSON object. */
export const isJsonObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON.parse of a body that must be an object; ModelError otherwise. */
export function parseJsonObject(text: string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ModelError(`${what} is not JSON`);
  }
  if (!isJsonObject(value)) throw new ModelError(`${what} is not a JSON object`);
  return value;
}

function object(o: Json, name: string): Json {
  const v = o[name];
  if (!isJsonObject(v)) throw new ModelError(`${name} must be an object`);
  return v;
}

function string(o: Json, name: string): string {
  const v = o[name];
  if (typeof v !== "string" || v === "") throw new ModelError(`${name} must be a non-empty string`);
  return v;
}

/** `read(o, name)` when the field is present, else undefined (optional fields). */
function opt<T>(o: Json, name: string, read: (o: Json, name: string) => T): T | undefined {
  return o[name] === undefined ? undefined : read(o, name);
}

/** A string that may be empty (descriptions, attach). */
function text(o: Json, name: string): string {
  const v = o[name];
  if (typeof v !== "string") throw new ModelError(`${name} must be a string`);
  return v;
}

function fail(message: string): never {
  throw new ModelError(message);
}

/** Money: a non-negative integer number of fen. */
function fen(o: Json, name: string): number {
  const v = o[name];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new ModelError(`${name} must be a non-negative integer (fen)`);
  return v;
}

function time(o: Json, name: string): string {
  const v = string(o, name);
  try {
    parseRfc3339(v);
  } catch {
    throw new ModelError(`${name} must be an RFC 3339 time`);
  }
  return v;
}

function oneOf<T extends string>(o: Json, name: string, values: readonly T[]): T {
  const v = string(o, name);
  if (!(values as readonly string[]).includes(v)) throw new ModelError(`${name} has an unknown value`);
  return v as T;
}

/** `trade_state` values (https://pay.weixin.qq.com/doc/v3/merchant/4012525167 and the query page). */
const TRADE_STATES = ["SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"] as const;
export type TradeState = (typeof TRADE_STATES)[number];

/** A payment (query reply or decrypted TRANSACTION.* callback resource): the fields this service uses. */
export interface Transaction {
  appid: string;
  mchid: string;
  out_trade_no: string;
  /** Absent until paid. */
  transaction_id?: string;
  trade_state: TradeState;
  trade_state_desc?: string;
  trade_type?: string;
  /** RFC 3339, present once paid. */
  success_time?: string;
  attach?: string;
  payer?: { openid: string };
  /** `currency` is absent from an unpaid order's query reply (WeChat sends only total and payer_currency). */
  amount: { total: number; payer_total?: number; currency?: string; payer_currency?: string };
}

/**
 * Reads a transaction. A SUCCESS one must carry what proves the payment: transaction_id,
 * success_time, the payer's openid and payer_total.
 */
export function readTransaction(value: unknown): Transaction {
  if (!isJsonObject(value)) throw new ModelError("transaction must be an object");
  const amount = object(value, "amount");
  const payer = value.payer;
  const t: Transaction = {
    appid: string(value, "appid"),
    mchid: string(value, "mchid"),
    out_trade_no: string(value, "out_trade_no"),
    transaction_id: opt(value, "transaction_id", string),
    trade_state: oneOf(value, "trade_state", TRADE_STATES),
    trade_state_desc: opt(value, "trade_state_desc", text),
    trade_type: opt(value, "trade_type", text),
    success_time: opt(value, "success_time", time),
    attach: opt(value, "attach", text),
    // An unpaid order's query reply may carry an empty payer object.
    payer: payer === undefined || (isJsonObject(payer) && Object.keys(payer).length === 0) ? undefined : { openid: string(object(value, "payer"), "openid") },
    amount: {
      total: fen(amount, "total"),
      payer_total: opt(amount, "payer_total", fen),
      currency: opt(amount, "currency", string),
      payer_currency: opt(amount, "payer_currency", text),
    },
  };
  if (t.trade_state === "SUCCESS" && (!t.transaction_id || !t.success_time || !t.payer || t.amount.payer_total === undefined)) {
    throw new ModelError("a SUCCESS transaction must carry transaction_id, success_time, payer.openid and amount.payer_total");
  }
  // A paid one must say its currency (the transition refuses anything but CNY); an unpaid one need not.
  if ((t.trade_state === "SUCCESS" || t.trade_state === "REFUND") && t.amount.currency === undefined) {
    throw new ModelError("a paid transaction must carry amount.currency");
  }
  return t;
}

/** Refund statuses (https://pay.weixin.qq.com/doc/v3/merchant/4012552567). */
const REFUND_STATUSES = ["SUCCESS", "CLOSED", "PROCESSING", "ABNORMAL"] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** A refund (refund or refund-query reply, or decrypted REFUND.* callback resource). */
export interface Refund {
  refund_id: string;
  out_refund_no: string;
  transaction_id: string;
  out_trade_no: string;
  /** `status` in API replies, `refund_status` in notifications: one field here. */
  status: RefundStatus;
  /** RFC 3339, present once refunded. */
  success_time?: string;
  /** RFC 3339 (API replies). */
  create_time?: string;
  user_received_account?: string;
  channel?: string;
  amount: { refund: number; total: number; payer_refund?: number; payer_total?: number; currency?: string };
}

/**
 * Reads a refund. `source` says where the status is: API replies call it `status`, notifications
 * `refund_status` (reading the wrong one is a classic mistake).
 */
export function readRefund(value: unknown, source: "api" | "notification"): Refund {
  if (!isJsonObject(value)) throw new ModelError("refund must be an object");
  const amount = object(value, "amount");
  const r: Refund = {
    refund_id: string(value, "refund_id"),
    out_refund_no: string(value, "out_refund_no"),
    transaction_id: string(value, "transaction_id"),
    out_trade_no: string(value, "out_trade_no"),
    status: oneOf(value, source === "api" ? "status" : "refund_status", REFUND_STATUSES),
    success_time: opt(value, "success_time", time),
    create_time: opt(value, "create_time", time),
    user_received_account: opt(value, "user_received_account", text),
    channel: opt(value, "channel", text),
    amount: {
      refund: fen(amount, "refund"),
      total: fen(amount, "total"),
      payer_refund: opt(amount, "payer_refund", fen),
      payer_total: opt(amount, "payer_total", fen),
      currency: opt(amount, "currency", text),
    },
  };
  if (r.amount.refund > r.amount.total) throw new ModelError("amount.refund exceeds amount.total");
  return r;
}
