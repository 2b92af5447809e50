/**
 * The typed WeChat Pay API v3 client for one merchant. Every request is signed (sign.ts) and carries
 * `Accept`, a `User-Agent` (WeChat answers 400 "Http头缺少Accept或User-Agent" without them, and the
 * Workers runtime's fetch sends neither) and, when a public-key id is configured, `Wechatpay-Serial`
 * (so replies come back signed with the public key). Every 2xx reply is verified over its raw bytes
 * before it is parsed; an unsigned or unverifiable 2xx is refused, never trusted
 * (https://pay.weixin.qq.com/doc/global/v3/zh/4012354982). Non-2xx replies become WechatPayV3Error,
 * marked `verified` only when they carried a valid signature.
 *
 * No mTLS anywhere in v3: the signature authenticates each request, refunds included.
 */
import { parseBill, BillError, type Bill } from "../bill";
import { readBodyCapped, ReplyTooLargeError, TransportError, withDeadline, type Fetcher } from "../http";
import { nonceStr } from "../ids";
import { parseRfc3339 } from "../time";
import { checkBillFile, type BillTicket } from "./bill-file";
import { readCertificatesReply, type PlatformCertificate } from "./certificates";
import { strictUtf8 } from "./encoding";
import { readErrorReply, type WechatPayV3Error } from "./errors";
import { ModelError, parseJsonObject, readRefund, readTransaction, type Refund, type Transaction } from "./models";
import { signRequest } from "./sign";
import { hasOutsideBmp } from "../text";
import { isPublicKeyId, verifySignature, type TrustStore, type VerifyFailureReason } from "./verify";

/** Construction options. Keys come from pem.ts; everything with a default is injectable for tests. */
export interface WechatPayV3ClientOptions {
  /** The mini program's appid (bound to the merchant). */
  appid: string;
  mchid: string;
  /** Merchant API certificate serial (`serial_no` in Authorization). */
  merchantSerialNo: string;
  /** Merchant API private key (importMerchantPrivateKey). */
  privateKey: CryptoKey;
  /** The 32-character APIv3 key (decrypts /v3/certificates). */
  apiV3Key: string;
  /** The verification keys, read at each verification so a refreshed store applies at once. */
  trust: () => TrustStore | Promise<TrustStore>;
  /**
   * Called once when a 2xx reply names an unknown platform-certificate serial (never for a
   * `PUB_KEY_ID_…`, which cannot be fetched): refresh the certificates and return the new store,
   * or null to give up.
   */
  refreshTrust?: (serial: string) => Promise<TrustStore | null>;
  /** The WeChat Pay public-key id (`PUB_KEY_ID_…`), sent as `Wechatpay-Serial` on every request. */
  publicKeyId?: string;
  /** e.g. "https://api.mch.weixin.qq.com" (a trailing slash is tolerated). */
  baseUrl: string;
  /** Default: globalThis.fetch. */
  fetch?: Fetcher;
  /** Deadline per call (request and reply body), default 5000 ms. */
  timeoutMs?: number;
  /** Clock for request timestamps and the reply timestamp window. */
  now?: () => Date;
  /** Nonce source, default 32 random alphanumerics. */
  nonce?: () => string;
  userAgent?: string;
  /** Cap on a downloaded bill (compressed and uncompressed), default 20 MiB. */
  maxBillBytes?: number;
}

/** Why a call did not produce verified data. Only `ok: true` carries data WeChat signed. */
export type V3Failure =
  | { ok: false; kind: "transport"; message: string }
  | { ok: false; kind: "unverified"; reason: VerifyFailureReason; serial?: string; message: string; requestId: string | null }
  | { ok: false; kind: "api_error"; error: WechatPayV3Error }
  | { ok: false; kind: "malformed"; message: string; requestId: string | null };

export type V3Result<T> = { ok: true; data: T; requestId: string | null } | V3Failure;

/** `POST /v3/pay/transactions/jsapi` business fields; the client adds appid and mchid. */
export interface JsapiPrepayRequest {
  /** ≤127 characters, no characters outside the BMP (emoji). */
  description: string;
  out_trade_no: string;
  /** RFC 3339, e.g. beijingRfc3339(date); the last moment the user can pay. */
  time_expire?: string;
  attach?: string;
  /** Absolute HTTPS URL without a query string. */
  notify_url: string;
  /** Integer fen; currency is always CNY. */
  amount: { total: number };
  payer: { openid: string };
}

/** `POST /v3/refund/domestic/refunds`: by out_trade_no (the service's own id). */
export interface RefundRequest {
  out_trade_no: string;
  /** The idempotency key: retry a failed refund with the same one. */
  out_refund_no: string;
  reason?: string;
  notify_url?: string;
  /** Integer fen. */
  amount: { refund: number; total: number };
}

/** A downloaded trade bill: the checked text and its parse (the CSV format is the same as v2's). */
export interface DownloadedBill {
  text: string;
  bill: Bill;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BILL_BYTES = 20 * 1024 * 1024;
/** JSON replies are small (a transaction, a refund, a few certificates). */
const MAX_JSON_BYTES = 256 * 1024;
const DEFAULT_USER_AGENT = "wechat-miniprogram-pay-worker/0.1 (Cloudflare Workers)";
/** Hosts a bill download URL may point at besides the configured base. */
const WECHAT_PAY_HOSTS = new Set(["api.mch.weixin.qq.com", "api2.mch.weixin.qq.com"]);

interface RawReply {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  requestId: string | null;
}

const transport = (message: string): V3Failure => ({ ok: false, kind: "transport", message });

/** Rejects what WeChat would refuse anyway, before signing: a programming error, not an upstream one. */
function checkText(name: string, value: string | undefined, maxChars: number, required = true): void {
  if (value === undefined && !required) return;
  if (typeof value !== "string" || value === "" || [...value].length > maxChars) throw new TypeError(`${name} must be 1 to ${maxChars} characters`);
  if (hasOutsideBmp(value)) throw new TypeError(`${name} must not contain characters outside the BMP (e.g. emoji)`);
}

function checkFen(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer number of fen`);
}

/**
 * WeChat Pay API v3 client for one merchant. Arguments WeChat would refuse (empty ids, amounts that
 * are not positive integers of fen, emoji, malformed dates) throw TypeError or RangeError at once,
 * before anything is signed or sent; everything that comes back is a {@link V3Result}.
 */
export class WechatPayV3Client {
  readonly #o: WechatPayV3ClientOptions;
  readonly #base: URL;
  readonly #fetch: Fetcher;
  readonly #now: () => Date;
  readonly #nonce: () => string;

  /** Validates the options that would otherwise fail on every call. */
  constructor(opts: WechatPayV3ClientOptions) {
    if (!opts.appid || !opts.mchid || !opts.merchantSerialNo) throw new TypeError("appid, mchid and merchantSerialNo are required");
    this.#o = opts;
    this.#base = new URL(opts.baseUrl.replace(/\/+$/, "") + "/");
    this.#fetch = opts.fetch ?? ((req) => fetch(req));
    this.#now = opts.now ?? (() => new Date());
    this.#nonce = opts.nonce ?? (() => nonceStr(32));
  }

  /** Mini-program / JSAPI prepay. The same out_trade_no with the same parameters returns the current prepay_id. */
  prepayJsapi(req: JsapiPrepayRequest): Promise<V3Result<{ prepay_id: string }>> {
    checkText("description", req.description, 127);
    checkText("out_trade_no", req.out_trade_no, 32);
    checkText("attach", req.attach, 128, false);
    checkText("notify_url", req.notify_url, 255);
    checkText("payer.openid", req.payer.openid, 128);
    checkFen("amount.total", req.amount.total);
    if (req.time_expire !== undefined) parseRfc3339(req.time_expire); // RangeError for a malformed time
    // Key order as in WeChat's example (the vectors pin this exact body).
    const body = JSON.stringify({
      appid: this.#o.appid,
      mchid: this.#o.mchid,
      description: req.description,
      out_trade_no: req.out_trade_no,
      time_expire: req.time_expire,
      attach: req.attach,
      notify_url: req.notify_url,
      amount: { total: req.amount.total, currency: "CNY" },
      payer: { openid: req.payer.openid },
    });
    return this.#json("POST", "v3/pay/transactions/jsapi", body, (o) => {
      if (typeof o.prepay_id !== "string" || o.prepay_id === "") throw new ModelError("prepay_id must be a non-empty string");
      return { prepay_id: o.prepay_id };
    });
  }

  /** Query by out_trade_no (the only way to query an unpaid order). */
  queryByOutTradeNo(outTradeNo: string): Promise<V3Result<Transaction>> {
    checkText("out_trade_no", outTradeNo, 32);
    const path = `v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(this.#o.mchid)}`;
    return this.#json("GET", path, "", readTransaction);
  }

  /** Close an unpaid order: 204, signed over an empty body. */
  closeOrder(outTradeNo: string): Promise<V3Result<null>> {
    checkText("out_trade_no", outTradeNo, 32);
    const path = `v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`;
    return this.#verified("POST", path, JSON.stringify({ mchid: this.#o.mchid })).then((reply) =>
      reply.ok ? { ok: true, data: null, requestId: reply.data.requestId } : reply);
  }

  /** Request a refund. A 200 means accepted; the result comes by notification or {@link queryRefund}. */
  refund(req: RefundRequest): Promise<V3Result<Refund>> {
    checkText("out_trade_no", req.out_trade_no, 32);
    checkText("out_refund_no", req.out_refund_no, 64);
    checkText("reason", req.reason, 80, false);
    checkText("notify_url", req.notify_url, 256, false);
    checkFen("amount.refund", req.amount.refund);
    checkFen("amount.total", req.amount.total);
    if (req.amount.refund > req.amount.total) throw new TypeError("amount.refund must not exceed amount.total");
    const body = JSON.stringify({
      out_trade_no: req.out_trade_no,
      out_refund_no: req.out_refund_no,
      reason: req.reason,
      notify_url: req.notify_url,
      amount: { refund: req.amount.refund, total: req.amount.total, currency: "CNY" },
    });
    return this.#json("POST", "v3/refund/domestic/refunds", body, (o) => readRefund(o, "api"));
  }

  /** Query a refund by out_refund_no. */
  queryRefund(outRefundNo: string): Promise<V3Result<Refund>> {
    checkText("out_refund_no", outRefundNo, 64);
    return this.#json("GET", `v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`, "", (o) => readRefund(o, "api"));
  }

  /** Apply for a day's trade bill (`billDate` YYYY-MM-DD, Beijing): a signed ticket with the download URL and SHA-1. */
  applyTradeBill(q: { billDate: string; billType?: "ALL" | "SUCCESS" | "REFUND"; gzip?: boolean }): Promise<V3Result<BillTicket>> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(q.billDate)) throw new TypeError("billDate must be YYYY-MM-DD");
    const query = new URLSearchParams({ bill_date: q.billDate, bill_type: q.billType ?? "ALL" });
    if (q.gzip) query.set("tar_type", "GZIP");
    return this.#json("GET", `v3/bill/tradebill?${query}`, "", (o) => {
      for (const name of ["hash_type", "hash_value", "download_url"] as const) {
        if (typeof o[name] !== "string" || o[name] === "") throw new ModelError(`${name} must be a non-empty string`);
      }
      return { hash_type: o.hash_type as string, hash_value: o.hash_value as string, download_url: o.download_url as string };
    });
  }

  /**
   * Download a ticket's file with a signed GET. The reply is not signed: the SHA-1 of the
   * (uncompressed) bytes must equal the ticket's hash_value. `gzip` must match the application.
   */
  async downloadBill(ticket: BillTicket, opts: { gzip?: boolean } = {}): Promise<V3Result<DownloadedBill>> {
    let url: URL;
    try {
      url = new URL(ticket.download_url);
    } catch {
      return { ok: false, kind: "malformed", message: "download_url is not a URL", requestId: null };
    }
    const sameOrigin = url.origin === this.#base.origin;
    if (!sameOrigin && !(url.protocol === "https:" && WECHAT_PAY_HOSTS.has(url.hostname))) {
      return { ok: false, kind: "malformed", message: "download_url points outside WeChat Pay", requestId: null };
    }
    const maxBytes = this.#o.maxBillBytes ?? DEFAULT_MAX_BILL_BYTES;
    const sent = await this.#send("GET", url, "", maxBytes);
    if (!sent.ok) return sent;
    const reply = sent.data;
    if (reply.status < 200 || reply.status > 299) return this.#apiError(reply);
    const checked = await checkBillFile(reply.bytes, ticket, { gzip: opts.gzip ?? false, maxBytes });
    if (!checked.ok) return { ok: false, kind: "malformed", message: checked.message, requestId: reply.requestId };
    try {
      const text = strictUtf8.decode(checked.bytes);
      return { ok: true, data: { text, bill: parseBill(text) }, requestId: reply.requestId };
    } catch (err) {
      const message = err instanceof BillError ? `malformed bill: ${err.message}` : "bill is not valid UTF-8";
      return { ok: false, kind: "malformed", message, requestId: reply.requestId };
    }
  }

  /** Apply for and download a day's trade bill (the ticket's URL is short-lived, so both steps run together). */
  tradeBill(q: { billDate: string; billType?: "ALL" | "SUCCESS" | "REFUND"; gzip?: boolean }): Promise<V3Result<DownloadedBill>> {
    return this.applyTradeBill(q).then((ticket) => (ticket.ok ? this.downloadBill(ticket.data, { gzip: q.gzip }) : ticket));
  }

  /**
   * Download, decrypt and read the platform certificates. The reply is verified with the trust
   * store plus the certificates it contains: on the first download nothing else can verify it.
   */
  async downloadCertificates(): Promise<V3Result<PlatformCertificate[]>> {
    const sent = await this.#send("GET", new URL("v3/certificates", this.#base), "", MAX_JSON_BYTES);
    if (!sent.ok) return sent;
    const reply = sent.data;
    if (reply.status < 200 || reply.status > 299) return this.#apiError(reply);
    let text: string;
    try {
      text = strictUtf8.decode(reply.bytes);
    } catch {
      return { ok: false, kind: "malformed", message: "reply is not UTF-8", requestId: reply.requestId };
    }
    const read = await readCertificatesReply(text, this.#o.apiV3Key);
    if (!read.ok) return { ok: false, kind: "malformed", message: read.message, requestId: reply.requestId };
    const trust = new Map(await this.#o.trust());
    for (const c of read.certificates) trust.set(c.serialNo, c.publicKey);
    const verified = await verifySignature({ headers: reply.headers, body: reply.bytes, trust, now: this.#now() });
    if (!verified.ok) return { ok: false, kind: "unverified", reason: verified.reason, serial: verified.serial, message: verified.message, requestId: reply.requestId };
    return { ok: true, data: read.certificates, requestId: reply.requestId };
  }

  /** A verified JSON call: the reply object is read by `read` (ModelError → malformed). */
  async #json<T>(method: string, path: string, body: string, read: (o: Record<string, unknown>) => T): Promise<V3Result<T>> {
    const reply = await this.#verified(method, path, body);
    if (!reply.ok) return reply;
    const { text, requestId } = reply.data;
    try {
      return { ok: true, data: read(parseJsonObject(text, "reply")), requestId };
    } catch (err) {
      if (err instanceof ModelError) return { ok: false, kind: "malformed", message: err.message, requestId };
      throw err;
    }
  }

  /** Sends a signed request; a 2xx must verify (refreshing certificates once for an unknown hex serial). */
  async #verified(method: string, path: string, body: string): Promise<V3Result<{ text: string; requestId: string | null }>> {
    const sent = await this.#send(method, new URL(path, this.#base), body, MAX_JSON_BYTES);
    if (!sent.ok) return sent;
    const reply = sent.data;
    if (reply.status < 200 || reply.status > 299) return this.#apiError(reply);
    const now = this.#now();
    let verified = await verifySignature({ headers: reply.headers, body: reply.bytes, trust: await this.#o.trust(), now });
    if (!verified.ok && verified.reason === "unknown_serial" && verified.serial !== undefined && !isPublicKeyId(verified.serial) && this.#o.refreshTrust) {
      // A failed refresh leaves the reply unverified (unknown_serial), like a refresh that found nothing.
      const refreshed = await this.#o.refreshTrust(verified.serial).catch(() => null);
      if (refreshed) verified = await verifySignature({ headers: reply.headers, body: reply.bytes, trust: refreshed, now });
    }
    if (!verified.ok) {
      return { ok: false, kind: "unverified", reason: verified.reason, serial: verified.serial, message: verified.message, requestId: reply.requestId };
    }
    try {
      return { ok: true, data: { text: strictUtf8.decode(reply.bytes), requestId: reply.requestId }, requestId: reply.requestId };
    } catch {
      return { ok: false, kind: "malformed", message: "reply is not UTF-8", requestId: reply.requestId };
    }
  }

  /** A non-2xx reply as WechatPayV3Error; verified only if it carried a valid signature. */
  async #apiError(reply: RawReply): Promise<V3Failure> {
    const verified = await verifySignature({ headers: reply.headers, body: reply.bytes, trust: await this.#o.trust(), now: this.#now() });
    const text = new TextDecoder().decode(reply.bytes);
    return { ok: false, kind: "api_error", error: readErrorReply(reply.status, text, { verified: verified.ok, requestId: reply.requestId }) };
  }

  /** One signed exchange under the deadline: status, headers and the capped raw body. */
  async #send(method: string, url: URL, body: string, maxBytes: number): Promise<V3Result<RawReply>> {
    const timestamp = String(Math.floor(this.#now().getTime() / 1000));
    const signer = { mchid: this.#o.mchid, serialNo: this.#o.merchantSerialNo, privateKey: this.#o.privateKey };
    const { authorization } = await signRequest(signer, { method, url, body, timestamp, nonce: this.#nonce() });
    const headers = new Headers({ Authorization: authorization, Accept: "application/json", "User-Agent": this.#o.userAgent ?? DEFAULT_USER_AGENT });
    if (body !== "") headers.set("Content-Type", "application/json");
    if (this.#o.publicKeyId) headers.set("Wechatpay-Serial", this.#o.publicKeyId);
    try {
      const reply = await withDeadline(this.#o.timeoutMs ?? DEFAULT_TIMEOUT_MS, async (signal) => {
        const res = await this.#fetch(new Request(url, { method, headers, body: body === "" ? undefined : body, signal }));
        return { status: res.status, headers: res.headers, bytes: await readBodyCapped(res, maxBytes), requestId: res.headers.get("request-id") };
      });
      return { ok: true, data: reply, requestId: reply.requestId };
    } catch (err) {
      if (err instanceof ReplyTooLargeError) return transport("reply too large");
      return transport(err instanceof TransportError ? err.message : "request failed");
    }
  }
}
