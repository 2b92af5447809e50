/**
 * The typed WeChat Pay v2 client. Every call: signed request with the pinned sign type and a fresh
 * nonce, one deadline, a capped body read through the hardened XML reader, then the three layers of
 * WeChat's replies in order (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1): return_code (unsigned envelope), signature + appid/mch_id,
 * result_code. Nothing from a reply whose signature fails is ever returned.
 */
import { isBillErrorXml, parseBill, readBillError, BillError, type Bill } from "./bill";
import { readBodyCapped, discardBody, withDeadline, ReplyTooLargeError, TransportError, type Fetcher } from "./http";
import { nonceStr } from "./ids";
import { sign, verifySign, type Fields, type SignType } from "./sign";
import { MAX_XML_BYTES, readXml, writeXml, XmlError } from "./xml";

/** Construction options; `fetch`/`certFetch` are injectable (tests, simulator, mTLS binding). */
export interface WechatPayClientOptions {
  appId: string;
  mchId: string;
  /** The 32-character API v2 key. Never appears in any result or error message. */
  key: string;
  /** Old keys still accepted when verifying replies during a key rotation. */
  previousKeys?: readonly string[];
  /** Pinned algorithm for requests and for verifying replies. */
  signType: SignType;
  /** e.g. "https://api.mch.weixin.qq.com" (a trailing slash is tolerated). */
  payBase: string;
  /** Default: globalThis.fetch. */
  fetch?: (req: Request) => Promise<Response>;
  /** Used for /secapi/* (the mTLS certificate binding's fetch); default: `fetch`. */
  certFetch?: (req: Request) => Promise<Response>;
  /** Deadline per call, default 5000 ms. */
  timeoutMs?: number;
  /** Clock for callers' convenience; the client itself stamps no times into requests. */
  now?: () => Date;
  /**
   * Byte cap for downloadbill bodies, default 20 MiB (XML replies are capped at MAX_XML_BYTES). A
   * parsed bill takes several times its size in memory: keep it well under the runtime's limit.
   */
  maxBillBytes?: number;
}

/** Outcome of a signed API call. Only `ok: true` and `result_fail` carry verified data. */
export type PayCallResult =
  | { ok: true; data: Fields }
  | { ok: false; kind: "transport"; message: string }
  | { ok: false; kind: "bad_signature"; message: string }
  | { ok: false; kind: "return_fail"; returnMsg: string }
  | { ok: false; kind: "result_fail"; errCode: string; errCodeDes: string; data: Fields };

/**
 * Outcome of downloadBill. `bill_creating`: WeChat has not generated the bill yet ("Bill Creating";
 * bills are generated from 09:00 Beijing the next day). `too_large`: the body exceeded maxBillBytes
 * (nothing was parsed).
 */
export type DownloadBillResult =
  | { ok: true; kind: "bill"; bill: Bill }
  | { ok: true; kind: "no_bill" }
  | { ok: false; kind: "bill_creating" }
  | { ok: false; kind: "too_large"; maxBytes: number }
  | Exclude<PayCallResult, { ok: true }>;

type Failure = Exclude<PayCallResult, { ok: true }>;

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BILL_BYTES = 20 * 1024 * 1024;
/** refundquery pages hold up to 10 refunds of ~11 indexed fields each, plus coupon fields. */
const REFUND_QUERY_MAX_FIELDS = 400;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const transport = (message: string): Failure => ({ ok: false, kind: "transport", message });

/** WeChat Pay v2 API client for one merchant (appid + mch_id + key). */
export class WechatPayClient {
  readonly #opts: WechatPayClientOptions;
  readonly #base: string;
  readonly #fetch: Fetcher;
  readonly #certFetch: Fetcher;
  readonly #timeoutMs: number;
  readonly #keys: readonly string[];

  /** Validates the options that would otherwise fail on every call. */
  constructor(opts: WechatPayClientOptions) {
    if (!opts.appId || !opts.mchId || !opts.key) throw new TypeError("appId, mchId and key are required");
    if (opts.signType !== "MD5" && opts.signType !== "HMAC-SHA256") throw new TypeError("invalid signType");
    this.#opts = opts;
    this.#base = opts.payBase.replace(/\/+$/, "");
    const fetcher: Fetcher = opts.fetch ?? ((req) => fetch(req));
    this.#fetch = fetcher;
    this.#certFetch = opts.certFetch ?? fetcher;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#keys = [opts.key, ...(opts.previousKeys ?? [])].filter((k) => k !== "");
  }

  /**
   * POST /pay/unifiedorder. Pass the business fields (body, out_trade_no, total_fee,
   * spbill_create_ip, notify_url, trade_type, openid, time_start, time_expire, attach?); the client
   * adds appid, mch_id, nonce_str, sign_type and sign. `data.prepay_id` is verified on success.
   */
  unifiedOrder(params: Fields): Promise<PayCallResult> {
    return this.#call("/pay/unifiedorder", params);
  }

  /** POST /pay/orderquery by out_trade_no or transaction_id. */
  orderQuery(q: { outTradeNo: string } | { transactionId: string }): Promise<PayCallResult> {
    const params: Fields = "outTradeNo" in q ? { out_trade_no: q.outTradeNo } : { transaction_id: q.transactionId };
    return this.#call("/pay/orderquery", params);
  }

  /** POST /pay/closeorder. */
  closeOrder(outTradeNo: string): Promise<PayCallResult> {
    return this.#call("/pay/closeorder", { out_trade_no: outTradeNo });
  }

  /**
   * POST /secapi/pay/refund through `certFetch` (mTLS). Pass out_trade_no or transaction_id,
   * out_refund_no, total_fee, refund_fee and optionally refund_desc / notify_url. Success means
   * "accepted", not "refunded".
   */
  refund(params: Fields): Promise<PayCallResult> {
    return this.#call("/secapi/pay/refund", params, { cert: true });
  }

  /** POST /pay/refundquery by out_refund_no, or by out_trade_no with an optional page offset. */
  refundQuery(q: { outRefundNo: string } | { outTradeNo: string; offset?: number }): Promise<PayCallResult> {
    let params: Fields;
    if ("outRefundNo" in q) {
      params = { out_refund_no: q.outRefundNo };
    } else {
      params = { out_trade_no: q.outTradeNo };
      if (q.offset !== undefined) {
        if (!Number.isSafeInteger(q.offset) || q.offset < 0) {
          return Promise.resolve(transport("invalid offset"));
        }
        params.offset = String(q.offset);
      }
    }
    return this.#call("/pay/refundquery", params, { maxFields: REFUND_QUERY_MAX_FIELDS });
  }

  /**
   * POST /pay/downloadbill for a Beijing `yyyyMMdd`. The success body is CSV text (unsigned; its
   * integrity rests on TLS), parsed with {@link parseBill}. `No Bill Exist` (error_code 20002) is
   * the normal answer for a day without trades → `no_bill`; `Bill Creating` → `bill_creating`; other
   * XML errors → `return_fail`; a body over maxBillBytes → `too_large`.
   */
  async downloadBill(q: { billDate: string; billType?: "ALL" | "SUCCESS" | "REFUND" }): Promise<DownloadBillResult> {
    if (!/^\d{8}$/.test(q.billDate)) return transport("invalid billDate");
    const params: Fields = { bill_date: q.billDate, bill_type: q.billType ?? "ALL" };
    let bytes: Uint8Array;
    try {
      bytes = await this.#post("/pay/downloadbill", params, this.#fetch, this.#opts.maxBillBytes ?? DEFAULT_MAX_BILL_BYTES);
    } catch (err) {
      if (err instanceof ReplyTooLargeError) return { ok: false, kind: "too_large", maxBytes: err.maxBytes };
      return transport(err instanceof TransportError ? err.message : "request failed");
    }
    let text: string;
    try {
      text = strictUtf8.decode(bytes); // strips a leading BOM; parseBill tolerates one anyway
    } catch {
      return transport("bill is not valid UTF-8");
    }
    if (text.trim() === "") return transport("empty reply");
    if (isBillErrorXml(text)) {
      if (bytes.byteLength > MAX_XML_BYTES) return transport("error reply too large");
      let error: { returnMsg: string; errorCode?: string };
      try {
        error = readBillError(text);
      } catch {
        return transport("malformed error reply");
      }
      if (error.errorCode === "20002" || /^no bill exist$/i.test(error.returnMsg)) return { ok: true, kind: "no_bill" };
      if (/^bill creating$/i.test(error.returnMsg.trim())) return { ok: false, kind: "bill_creating" };
      return { ok: false, kind: "return_fail", returnMsg: error.returnMsg };
    }
    try {
      return { ok: true, kind: "bill", bill: parseBill(text) };
    } catch (err) {
      return transport(err instanceof BillError ? `malformed bill: ${err.message}` : "malformed bill");
    }
  }

  /** Adds the envelope fields and signs. Caller fields cannot override appid/mch_id/nonce/sign_type. */
  async #signedBody(params: Fields): Promise<string> {
    const fields: Fields = {};
    for (const [name, value] of Object.entries(params)) {
      if (name !== "sign") fields[name] = value;
    }
    fields.appid = this.#opts.appId;
    fields.mch_id = this.#opts.mchId;
    fields.nonce_str = nonceStr(32);
    fields.sign_type = this.#opts.signType;
    fields.sign = await sign(fields, this.#opts.key, this.#opts.signType);
    return writeXml(fields);
  }

  /** Sends one signed POST under the deadline and returns the capped body of a 2xx reply. */
  async #post(path: string, params: Fields, fetcher: Fetcher, maxBytes: number): Promise<Uint8Array> {
    const body = await this.#signedBody(params);
    return withDeadline(this.#timeoutMs, async (signal) => {
      const req = new Request(`${this.#base}${path}`, {
        method: "POST",
        headers: { "Content-Type": "text/xml; charset=utf-8" },
        body,
        signal,
      });
      const res = await fetcher(req);
      if (res.status < 200 || res.status > 299) {
        await discardBody(res);
        throw new TransportError(`HTTP ${res.status}`);
      }
      return readBodyCapped(res, maxBytes);
    });
  }

  /** One XML API call, classified per the PayCallResult contract. */
  async #call(path: string, params: Fields, opts: { cert?: boolean; maxFields?: number } = {}): Promise<PayCallResult> {
    let bytes: Uint8Array;
    try {
      bytes = await this.#post(path, params, opts.cert ? this.#certFetch : this.#fetch, MAX_XML_BYTES);
    } catch (err) {
      if (err instanceof XmlError) throw err; // our own request could not be written: a caller bug
      return transport(err instanceof TransportError ? err.message : "request failed");
    }
    let reply: Fields;
    try {
      reply = readXml(bytes, { maxFields: opts.maxFields ?? 100 });
    } catch (err) {
      return transport(err instanceof XmlError ? `malformed reply (${err.code})` : "malformed reply");
    }

    if (reply.return_code === "FAIL") {
      // Envelope errors (签名错误, XML格式错误, ...) come unsigned; the sandbox says retmsg.
      return { ok: false, kind: "return_fail", returnMsg: reply.return_msg ?? reply.retmsg ?? "" };
    }
    if (reply.return_code !== "SUCCESS") return transport("malformed reply (no return_code)");

    if (!(await verifySign(reply, this.#keys, this.#opts.signType))) {
      return { ok: false, kind: "bad_signature", message: "reply signature missing or invalid" };
    }
    if (reply.appid !== undefined && reply.appid !== this.#opts.appId) {
      return { ok: false, kind: "bad_signature", message: "reply appid does not match" };
    }
    if (reply.mch_id !== undefined && reply.mch_id !== this.#opts.mchId) {
      return { ok: false, kind: "bad_signature", message: "reply mch_id does not match" };
    }

    if (reply.result_code === "SUCCESS") return { ok: true, data: reply };
    if (reply.result_code === "FAIL") {
      return { ok: false, kind: "result_fail", errCode: reply.err_code ?? "", errCodeDes: reply.err_code_des ?? "", data: reply };
    }
    return transport("malformed reply (no result_code)");
  }
}
