// The local WeChat simulator: api.weixin.qq.com (jscode2session) + api.mch.weixin.qq.com (Pay API v2),
// and a control API under /__sim/ that plays the user (pays, completes refunds) and lets tests inspect
// and perturb it. One core, used by `npm run sim` / `npm start` (sim/server.ts, delivery "http"), by
// vitest (miniflare outboundService + SIM service binding, delivery "outbox") and by the e2e test.
//
// It is a TEST PEER: nothing here is imported from src/. Protocol facts: shared/reference/wechat-pay-v2.md.
import { gzipSync } from "node:zlib";
import { renderBill } from "./bill.ts";
import type { BillRefund, BillTrade, BillType } from "./bill.ts";
import { isSignType, paySign, randomBase64, randomDigits, randomHex, randomNonce, sign, signEquals, stableTag, verifySign, encryptReqInfo } from "./crypto.ts";
import type { SignType } from "./crypto.ts";
import { Notifier, NotifierError } from "./notifier.ts";
import type { Delivery } from "./notifier.ts";
import { beijingCompact, beijingDashed, beijingDate, isValidDate8, parseBeijingCompact } from "./time.ts";
import { XmlError, buildXml, parseFlatXml } from "./xml.ts";

// ───────────────────────────── public types ─────────────────────────────

export interface SimulatorOptions {
  appId: string;
  mchId: string;
  /** the 32-character API v2 key */
  apiKey: string;
  /** the mini-program AppSecret (jscode2session) */
  appSecret: string;
  /** "http": the simulator POSTs notifications itself; "outbox": a harness takes and delivers them */
  delivery: "http" | "outbox";
  /** multiplies the retry intervals; 0 = every retry immediately due. Default 1 */
  timeScale?: number;
  /** closeorder refuses (SYSTEMERROR) orders younger than this. Default 300 (reference §6.3) */
  closeMinAgeSeconds?: number;
  /** prepay_id lifetime. Default 7200 */
  prepayValiditySeconds?: number;
  /** http delivery: abort and count as failed after this. Default 5000 */
  ackTimeoutMs?: number;
  /** the simulator's clock (epoch ms); /__sim/clock adds an offset on top. Default Date.now */
  now?: () => number;
  /** used for http delivery. Default globalThis.fetch */
  fetch?: typeof fetch;
  /** one line per request / delivery attempt; never contains keys, secrets or session keys */
  log?: (line: string) => void;
  /** complete every accepted refund with SUCCESS after this many ms (real timer). Default off */
  autoCompleteRefundsAfterMs?: number;
  /** the refund notify URL "configured on the merchant platform", used when a refund request has none */
  refundNotifyUrl?: string;
  /** accept lower-case hex signs (WeChat may; a strict peer does not). Default false */
  acceptLowercaseSign?: boolean;
  /** the "timeout" faults answer (504, nobody listening) after this many ms at the latest. Default 30000 */
  faultTimeoutMs?: number;
  /** bill text format: UTF-8 BOM and line ending. Default { bom: true, eol: "\r\n" } (as in real files) */
  bill?: { bom?: boolean; eol?: string };
}

export interface Simulator {
  fetch(request: Request): Promise<Response>;
  /** clear timers, abort in-flight deliveries, release hanging "timeout" faults */
  close(): void;
  /** resolves when no HTTP notification send is in flight (tests) */
  idle(): Promise<void>;
  /** the simulator's current time (epoch ms, offset included) */
  now(): number;
  /** the openid this simulator issues for a user (the part of a js_code before its first "-") */
  openidFor(user: string, appId?: string): string;
}

export type TradeState = "NOTPAY" | "SUCCESS" | "REFUND" | "CLOSED" | "PAYERROR";
export type RefundStatus = "PROCESSING" | "SUCCESS" | "REFUNDCLOSE" | "CHANGE";

export const FAULTS = [
  "systemerror", "http500", "html", "empty", "truncated", "doctype", "bad_sign", "return_fail", "timeout",
  // additions (see sim/README.md): processed-then-lost replies and scripted business errors
  "timeout_after", "systemerror_after", "notenough", "business", "bill_creating",
] as const;
export type FaultKind = (typeof FAULTS)[number];

// ───────────────────────────── internal state ─────────────────────────────

interface Order {
  appId: string;
  mchId: string;
  outTradeNo: string;
  paramsKey: string;
  signType: SignType;
  totalFee: number;
  body: string;
  attach: string;
  deviceInfo: string;
  openid: string;
  tradeType: string;
  notifyUrl: string;
  timeStart: string;
  timeExpire: string;
  timeExpireMs: number | null;
  createdAt: number;
  prepayId: string;
  prepayIssuedAt: number;
  state: TradeState;
  transactionId: string | null;
  timeEnd: string | null;
  paidAt: number | null;
  closedAt: number | null;
  bankType: string;
  refunds: Refund[];
}

interface Refund {
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  refundFee: number;
  status: RefundStatus;
  createdAt: number;
  successAt: number | null;
  notifyUrl: string | null;
  refundDesc: string;
}

interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  fields: Record<string, string> | null;
  raw: string;
  at: number;
}

interface Fault {
  fault: FaultKind;
  remaining: number;
  errCode?: string;
  errCodeDes?: string;
}

interface Ctx {
  path: string;
  fields: Record<string, string>;
  signType: SignType;
}

// ───────────────────────────── constants ─────────────────────────────

const API_PATHS = ["/pay/unifiedorder", "/pay/orderquery", "/pay/closeorder", "/secapi/pay/refund", "/pay/refundquery", "/pay/downloadbill"] as const;
type ApiPath = (typeof API_PATHS)[number];
const LOGIN_PATH = "/sns/jscode2session";

const COMMON_MAX: Record<string, number> = { appid: 32, mch_id: 32, device_info: 32, nonce_str: 32, sign: 64, sign_type: 32 };

interface ApiSpec {
  required: string[];
  /** at least one of these must be present */
  oneOf?: string[];
  max: Record<string, number>;
  ints: Record<string, string>;
}

const SPECS: Record<ApiPath, ApiSpec> = {
  "/pay/unifiedorder": {
    required: ["appid", "mch_id", "nonce_str", "sign", "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"],
    max: {
      body: 127, detail: 6144, attach: 127, out_trade_no: 32, fee_type: 16, spbill_create_ip: 64, time_start: 14, time_expire: 14,
      goods_tag: 32, notify_url: 256, trade_type: 16, product_id: 32, limit_pay: 32, openid: 128, receipt: 8, profit_sharing: 16,
      scene_info: 256, version: 32,
    },
    ints: { total_fee: "标价金额" },
  },
  "/pay/orderquery": { required: ["appid", "mch_id", "nonce_str", "sign"], oneOf: ["transaction_id", "out_trade_no"], max: { transaction_id: 32, out_trade_no: 32 }, ints: {} },
  "/pay/closeorder": { required: ["appid", "mch_id", "out_trade_no", "nonce_str", "sign"], max: { out_trade_no: 32 }, ints: {} },
  "/secapi/pay/refund": {
    required: ["appid", "mch_id", "nonce_str", "sign", "out_refund_no", "total_fee", "refund_fee"],
    oneOf: ["transaction_id", "out_trade_no"],
    max: { transaction_id: 32, out_trade_no: 32, out_refund_no: 64, refund_fee_type: 8, refund_desc: 80, refund_account: 30, notify_url: 256 },
    ints: { total_fee: "订单金额", refund_fee: "申请退款金额" },
  },
  "/pay/refundquery": {
    required: ["appid", "mch_id", "nonce_str", "sign"],
    oneOf: ["refund_id", "out_refund_no", "transaction_id", "out_trade_no"],
    max: { refund_id: 32, out_refund_no: 64, transaction_id: 32, out_trade_no: 32 },
    ints: { offset: "偏移量" },
  },
  "/pay/downloadbill": { required: ["appid", "mch_id", "nonce_str", "sign", "bill_date"], max: { bill_date: 8, bill_type: 16, tar_type: 8 }, ints: {} },
};

const MAX_BODY_BYTES = 256 * 1024;
const TRADE_STATE_DESC: Record<TradeState, string> = {
  SUCCESS: "支付成功",
  REFUND: "订单发生过退款，退款详情请查询退款单",
  NOTPAY: "订单未支付",
  CLOSED: "订单已关闭",
  PAYERROR: "支付失败，请重新下单支付",
};
const TIME_EXPIRE_TOO_SHORT = "time_expire时间过短，刷卡至少1分钟，其他5分钟";
const REFUND_MISMATCH_DES = "订单金额或退款金额与之前请求不一致，请核实后再试";
const MAX_RECEIVED = 2000;

// ───────────────────────────── helpers ─────────────────────────────

function xmlResponse(xml: string, status = 200): Response {
  return new Response(xml, { status, headers: { "Content-Type": "text/xml; charset=UTF-8" } });
}

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });
}

function controlError(status: number, code: string, message: string): Response {
  return jsonResponse({ error: message, code }, status);
}

/** return_code=FAIL envelope, unsigned (reference §3.3 "simulator hint"). */
function envelopeFail(msg: string, extra: Record<string, string> = {}): Response {
  return xmlResponse(buildXml({ return_code: "FAIL", return_msg: msg, ...extra }));
}

function rid(): string {
  return `${randomHex(4)}-${randomHex(4)}-${randomHex(4)}`;
}

function parseInt64(v: string): bigint | null {
  if (!/^[+-]?\d{1,19}$/.test(v)) return null;
  const n = BigInt(v);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return null;
  return n;
}

function present(f: Record<string, string>, k: string): boolean {
  return typeof f[k] === "string" && f[k] !== "";
}

/** Re-entry comparison key: every non-empty field except nonce_str and sign; sign_type normalised (absent = MD5). */
function reentryKey(f: Record<string, string>): string {
  const g: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) if (v !== "" && k !== "nonce_str" && k !== "sign") g[k] = v;
  g.sign_type = g.sign_type ?? "MD5";
  return Object.keys(g)
    .sort()
    .map((k) => `${k}=${g[k]}`)
    .join("&");
}

class ControlError extends Error {
  status: number;
  code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The decrypted refund-notify document: <root>, one CDATA field per line, fields in ASCII order. */
export function refundNotifyPlaintext(fields: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.keys(fields).sort().map((k) => [k, fields[k]]));
  return buildXml(sorted, { root: "root", allCdata: true, newline: true });
}

// ───────────────────────────── the simulator ─────────────────────────────

export function createSimulator(options: SimulatorOptions): Simulator {
  const o = {
    timeScale: 1,
    closeMinAgeSeconds: 300,
    prepayValiditySeconds: 7200,
    ackTimeoutMs: 5000,
    faultTimeoutMs: 30000,
    acceptLowercaseSign: false,
    ...options,
  };
  if (o.apiKey.length !== 32) throw new Error("apiKey must be the 32-character API v2 key");
  const baseNow = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  let offsetMs = 0;
  const now = () => baseNow() + offsetMs;

  const notifier = new Notifier({
    mode: o.delivery,
    timeScale: o.timeScale,
    ackTimeoutMs: o.ackTimeoutMs,
    now,
    fetch: o.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a)),
    log,
  });

  const orders = new Map<string, Order>();
  const byTransactionId = new Map<string, Order>();
  const prepays = new Map<string, { outTradeNo: string; issuedAt: number }>();
  const refundsByNo = new Map<string, Refund>();
  const usedCodes = new Set<string>();
  const openids = new Map<string, string>(); // openid → appid it was issued under
  let received: Received[] = [];
  const faults = new Map<string, Fault[]>();
  const hangs = new Set<() => void>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closed = false;

  function openidFor(user: string, appId = o.appId): string {
    const id = "o" + stableTag(`openid:${appId}:${user}`);
    openids.set(id, appId);
    return id;
  }

  // ───── reply builders ─────

  function signedReply(ctx: Ctx, fields: Record<string, string | undefined>): Response {
    const f: Record<string, string> = {
      return_code: "SUCCESS",
      return_msg: "OK",
      appid: ctx.fields.appid ?? o.appId,
      mch_id: ctx.fields.mch_id ?? o.mchId,
      nonce_str: randomNonce(16),
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) f[k] = v;
    // like WeChat: signed with the request's algorithm, and no sign_type field in the reply
    f.sign = sign(f, o.apiKey, ctx.signType);
    return xmlResponse(buildXml(f));
  }

  function bizFail(ctx: Ctx, errCode: string, errCodeDes: string, extra: Record<string, string> = {}): Response {
    return signedReply(ctx, { result_code: "FAIL", err_code: errCode, err_code_des: errCodeDes, ...extra });
  }

  // ───── fault machinery ─────

  function takeFault(path: string): Fault | null {
    const q = faults.get(path);
    if (!q || q.length === 0) return null;
    const f = q[0] as Fault;
    f.remaining--;
    if (f.remaining <= 0) q.shift();
    return { ...f };
  }

  function hang(signal: AbortSignal | null): Promise<Response> {
    return new Promise<Response>((resolve) => {
      const done = () => {
        clearTimeout(t);
        timers.delete(t);
        hangs.delete(done);
        resolve(new Response("", { status: 504 }));
      };
      const t = setTimeout(done, o.faultTimeoutMs);
      t.unref?.();
      timers.add(t);
      hangs.add(done);
      if (signal) {
        if (signal.aborted) done();
        else signal.addEventListener("abort", done, { once: true });
      }
    });
  }

  async function corrupt(res: Response, fault: Fault, signal: AbortSignal | null): Promise<Response> {
    if (fault.fault === "timeout_after") {
      await res.arrayBuffer();
      return hang(signal);
    }
    const text = await res.text();
    const headers = { "Content-Type": res.headers.get("Content-Type") ?? "text/xml" };
    if (fault.fault === "truncated") return new Response(text.slice(0, Math.max(1, Math.floor(text.length / 2))), { status: res.status, headers });
    if (fault.fault === "bad_sign") {
      const m = /<sign><!\[CDATA\[([0-9A-F]+)\]\]><\/sign>/.exec(text);
      if (!m) return new Response(text, { status: res.status, headers });
      const s = m[1] as string;
      const flipped = (s[0] === "0" ? "1" : "0") + s.slice(1);
      return new Response(text.replace(m[0], `<sign><![CDATA[${flipped}]]></sign>`), { status: res.status, headers });
    }
    return new Response(text, { status: res.status, headers });
  }

  function immediateFault(fault: Fault, path: string, fields: Record<string, string> | null): Response | null {
    const ctx: Ctx = { path, fields: fields ?? {}, signType: isSignType(fields?.sign_type) ? fields.sign_type : "MD5" };
    switch (fault.fault) {
      case "http500":
        return new Response("Internal Server Error", { status: 500, headers: { "Content-Type": "text/plain" } });
      case "html":
        return new Response("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr><center>stgw</center></body></html>", {
          status: 200,
          headers: { "Content-Type": "text/html" },
        });
      case "empty":
        return new Response("", { status: 200, headers: { "Content-Type": "text/xml" } });
      case "doctype":
        return xmlResponse(`<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><return_code>&xxe;</return_code></xml>`);
      case "return_fail":
        if (path === LOGIN_PATH) return jsonResponse({ errcode: -1, errmsg: `system error, rid: ${rid()}` });
        return envelopeFail("系统繁忙，请稍后再试");
      case "systemerror":
        if (path === LOGIN_PATH) return jsonResponse({ errcode: -1, errmsg: `system error, rid: ${rid()}` });
        if (path === "/pay/downloadbill") return envelopeFail("SYSTEMERROR");
        return bizFail(ctx, "SYSTEMERROR", "系统超时");
      case "notenough":
        return bizFail(ctx, "NOTENOUGH", "基本账户余额不足，请充值后重新发起");
      case "business":
        return bizFail(ctx, fault.errCode ?? "SYSTEMERROR", fault.errCodeDes ?? "system error");
      case "bill_creating":
        return envelopeFail("Bill Creating");
      default:
        return null; // timeout / processed-then-altered faults are handled by the caller
    }
  }

  // ───── request entry ─────

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path.startsWith("/__sim/")) {
      try {
        return await control(request, url);
      } catch (e) {
        if (!(e instanceof ControlError) && !(e instanceof NotifierError)) throw e;
        log(`${request.method} ${path} → ${e.status} ${e.message}`);
        if (e instanceof ControlError) return controlError(e.status, e.code, e.message);
        return controlError(e.status, e.status === 404 ? "NOT_FOUND" : "CONFLICT", e.message);
      }
    }
    if (path === LOGIN_PATH) return login(request, url);
    if ((API_PATHS as readonly string[]).includes(path)) return payApi(request, url, path as ApiPath);
    log(`${request.method} ${path} → 404 (not simulated)`);
    return new Response("404 Not Found (WeChat simulator: this path is not simulated)", { status: 404, headers: { "Content-Type": "text/plain" } });
  }

  function record(r: Received) {
    received.push(r);
    if (received.length > MAX_RECEIVED) received = received.slice(-MAX_RECEIVED);
  }

  // ───── jscode2session ─────

  async function login(request: Request, url: URL): Promise<Response> {
    const q = Object.fromEntries(url.searchParams);
    record({ method: request.method, path: LOGIN_PATH, query: q, fields: null, raw: request.method === "GET" ? "" : await request.text().catch(() => ""), at: now() });
    const fault = takeFault(LOGIN_PATH);
    if (fault) {
      log(`${request.method} ${LOGIN_PATH} → fault ${fault.fault}`);
      if (fault.fault === "timeout" || fault.fault === "timeout_after") return hang(request.signal ?? null);
      const immediate = immediateFault(fault, LOGIN_PATH, null);
      if (immediate) return immediate;
      if (fault.fault === "truncated") return new Response(`{"openid":"${openidFor("truncated")}","session_`, { status: 200, headers: { "Content-Type": "application/json" } });
    }
    const err = (errcode: number, errmsg: string) => {
      log(`${request.method} ${LOGIN_PATH} → errcode ${errcode}`);
      return new Response(JSON.stringify({ errcode, errmsg: `${errmsg}, rid: ${rid()}` }), { status: 200, headers: { "Content-Type": "application/json; encoding=utf-8" } });
    };
    const appid = q.appid ?? "";
    const secret = q.secret ?? "";
    const code = q.js_code ?? "";
    if (!appid) return err(41002, "appid missing");
    if (!secret) return err(41004, "appsecret missing");
    if (!code) return err(41008, "missing code");
    if (q.grant_type !== "authorization_code") return err(40002, "invalid grant_type");
    if (appid !== o.appId) return err(40013, "invalid appid");
    if (!signEquals(o.appSecret, secret)) return err(40125, "invalid appsecret");
    if (code.startsWith("bad")) return err(40029, "invalid code");
    if (code.startsWith("ratelimit")) return err(45011, "api minute-quota reach limit, must slower, retry next minute");
    if (code.startsWith("risky")) return err(40226, "code blocked");
    if (code.startsWith("busy")) return err(-1, "system error");
    if (code.length > 128) return err(40029, "invalid code");
    if (usedCodes.has(code)) return err(40163, "code been used");
    usedCodes.add(code);
    const user = code.split("-")[0] as string;
    const body: Record<string, string> = { session_key: randomBase64(16), openid: openidFor(user, appid) };
    if (user.startsWith("union")) body.unionid = "o" + stableTag(`unionid:${user}`);
    log(`${request.method} ${LOGIN_PATH} → 200 openid issued`);
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json; encoding=utf-8" } });
  }

  // ───── pay API envelope ─────

  async function payApi(request: Request, url: URL, path: ApiPath): Promise<Response> {
    const isBill = path === "/pay/downloadbill";
    const q = Object.fromEntries(url.searchParams);
    let raw = "";
    let fields: Record<string, string> | null = null;
    let envelopeError: string | null = null;
    const bytes = request.method === "GET" || request.method === "HEAD" ? new Uint8Array() : new Uint8Array(await request.arrayBuffer());
    if (request.method !== "POST") envelopeError = "require POST method";
    else if (bytes.length === 0) envelopeError = isBill ? "empty post data" : "post数据为空";
    else if (bytes.length > MAX_BODY_BYTES) envelopeError = isBill ? "data format error" : "XML格式错误";
    else {
      try {
        raw = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
      } catch {
        raw = Buffer.from(bytes).toString("latin1");
        envelopeError = isBill ? "data format error" : "编码格式错误";
      }
      if (!envelopeError) {
        try {
          fields = parseFlatXml(raw);
        } catch (e) {
          envelopeError = isBill ? "data format error" : "XML格式错误";
          if (!(e instanceof XmlError)) throw e;
        }
      }
    }
    record({ method: request.method, path, query: q, fields, raw, at: now() });

    const fault = takeFault(path);
    const label = fields?.out_trade_no ?? fields?.out_refund_no ?? fields?.bill_date ?? "";
    if (fault) {
      log(`${request.method} ${path} ${label} → fault ${fault.fault}`);
      if (fault.fault === "timeout") return hang(request.signal ?? null);
      const immediate = immediateFault(fault, path, fields);
      if (immediate) return immediate;
    }
    let res: Response;
    if (envelopeError) res = envelopeFail(envelopeError);
    else res = await validateAndRun(path, fields as Record<string, string>);
    if (fault && (fault.fault === "systemerror_after")) {
      await res.arrayBuffer();
      const f = fields ?? {};
      res = bizFail({ path, fields: f, signType: isSignType(f.sign_type) ? f.sign_type : "MD5" }, "SYSTEMERROR", "系统超时");
    } else if (fault) res = await corrupt(res, fault, request.signal ?? null);
    if (!fault) log(`${request.method} ${path} ${label} → ${await summarize(res)}`);
    return res;
  }

  async function summarize(res: Response): Promise<string> {
    const ct = res.headers.get("Content-Type") ?? "";
    if (!ct.includes("xml")) return `${res.status} ${ct.split(";")[0]}`;
    const text = await res.clone().text();
    try {
      const f = parseFlatXml(text);
      if (f.return_code !== "SUCCESS") return `return_code=FAIL ${f.return_msg ?? ""}`;
      if (f.result_code !== "SUCCESS") return `result_code=FAIL ${f.err_code ?? ""}`;
      return `SUCCESS${f.trade_state ? " " + f.trade_state : ""}${f.prepay_id ? " " + f.prepay_id : ""}`;
    } catch {
      return `${res.status}`;
    }
  }

  async function validateAndRun(path: ApiPath, f: Record<string, string>): Promise<Response> {
    const spec = SPECS[path];
    const isBill = path === "/pay/downloadbill";
    for (const k of spec.required) if (!present(f, k)) return envelopeFail(isBill ? "missing parameter" : "缺少参数");
    if (spec.oneOf && !spec.oneOf.some((k) => present(f, k))) return envelopeFail(isBill ? "missing parameter" : "缺少参数");
    for (const [k, v] of Object.entries(f)) {
      const max = COMMON_MAX[k] ?? spec.max[k];
      if (max !== undefined && Buffer.byteLength(v, "utf8") > max) {
        if (isBill) return envelopeFail(k === "nonce_str" ? "nonce_str too long" : k === "bill_date" ? "invalid bill_date" : `invalid ${k}`);
        return envelopeFail(`${k}参数长度有误`);
      }
    }
    for (const [k, label] of Object.entries(spec.ints)) {
      if (present(f, k) && parseInt64(f[k] as string) === null) {
        return envelopeFail(`无法将输入源“/body/xml/${k}”映射到目标字段“${label}”中，此字段需要一个合法的 64 位有符号整数`);
      }
    }
    if (present(f, "sign_type") && !isSignType(f.sign_type)) return envelopeFail(isBill ? "invalid sign_type" : "sign_type参数格式错误");
    if (f.appid !== o.appId) return envelopeFail(isBill ? "invalid appid" : "商户号mch_id与appid不匹配");
    if (f.mch_id !== o.mchId) return envelopeFail(isBill ? "invalid mch_id" : "商户号mch_id与appid不匹配");
    const signType: SignType = isSignType(f.sign_type) ? f.sign_type : "MD5";
    const signOk = verifySign(f, o.apiKey, signType, { caseInsensitive: o.acceptLowercaseSign });
    if (!signOk) return envelopeFail(isBill ? "SIGN ERROR" : "签名错误");
    const ctx: Ctx = { path, fields: f, signType };
    switch (path) {
      case "/pay/unifiedorder": return unifiedOrder(ctx);
      case "/pay/orderquery": return orderQuery(ctx);
      case "/pay/closeorder": return closeOrder(ctx);
      case "/secapi/pay/refund": return refund(ctx);
      case "/pay/refundquery": return refundQuery(ctx);
      case "/pay/downloadbill": return downloadBill(ctx);
    }
  }

  // ───── unifiedorder ─────

  function issuePrepay(order: Order) {
    const t = now();
    order.prepayId = "wx" + beijingCompact(t) + randomHex(10);
    order.prepayIssuedAt = t;
    prepays.set(order.prepayId, { outTradeNo: order.outTradeNo, issuedAt: t });
  }

  function prepayValid(order: Order, t = now()): boolean {
    return t < order.prepayIssuedAt + o.prepayValiditySeconds * 1000;
  }

  function unifiedOrder(ctx: Ctx): Response {
    const f = ctx.fields;
    const outTradeNo = f.out_trade_no as string;
    if (!/^[0-9A-Za-z_\-|*@]+$/.test(outTradeNo)) return envelopeFail("out_trade_no参数格式错误");
    let notifyOk = false;
    try {
      const u = new URL(f.notify_url as string);
      notifyOk = (u.protocol === "https:" || u.protocol === "http:") && u.search === "" && (f.notify_url as string).indexOf("?") < 0;
    } catch {
      notifyOk = false;
    }
    if (!notifyOk) return envelopeFail("notify_url参数格式错误");
    const tradeType = f.trade_type as string;
    if (!["JSAPI", "NATIVE", "APP", "MWEB"].includes(tradeType)) return bizFail(ctx, "PARAM_ERROR", "trade_type参数格式错误");
    const fee = parseInt64(f.total_fee as string) as bigint;
    if (fee <= 0n || fee > BigInt(Number.MAX_SAFE_INTEGER)) return bizFail(ctx, "PARAM_ERROR", "total_fee参数错误，订单金额必须大于0");
    if (present(f, "fee_type") && f.fee_type !== "CNY") return bizFail(ctx, "PARAM_ERROR", "fee_type参数格式错误");
    if (tradeType === "JSAPI" && !present(f, "openid")) return bizFail(ctx, "PARAM_ERROR", "JSAPI支付必须传openid");
    if (tradeType === "NATIVE" && !present(f, "product_id")) return bizFail(ctx, "PARAM_ERROR", "NATIVE支付必须传product_id");
    if (present(f, "openid")) {
      const issuedUnder = openids.get(f.openid as string);
      if (issuedUnder !== undefined && issuedUnder !== f.appid) return bizFail(ctx, "PARAM_ERROR", "appid和openid不匹配");
    }
    for (const k of ["time_start", "time_expire"]) {
      if (present(f, k) && parseBeijingCompact(f[k] as string) === null) return bizFail(ctx, "PARAM_ERROR", `${k}参数格式错误`);
    }
    const t = now();
    const existing = orders.get(outTradeNo);
    if (existing) {
      if (existing.state === "SUCCESS" || existing.state === "REFUND") return bizFail(ctx, "ORDERPAID", "该订单已支付");
      if (existing.state === "CLOSED") return bizFail(ctx, "ORDERCLOSED", "该订单已关闭");
      if (existing.state === "PAYERROR") return bizFail(ctx, "INVALID_REQUEST", "该订单支付失败，请使用新的商户订单号重新下单");
      if (existing.paramsKey !== reentryKey(f)) return bizFail(ctx, "OUT_TRADE_NO_USED", "商户订单号重复");
    }
    const expireMs = present(f, "time_expire") ? parseBeijingCompact(f.time_expire as string) : null;
    if (expireMs !== null && expireMs < t + 5 * 60 * 1000) return bizFail(ctx, "PARAM_ERROR", TIME_EXPIRE_TOO_SHORT);
    let order = existing;
    if (!order) {
      order = {
        appId: f.appid as string,
        mchId: f.mch_id as string,
        outTradeNo,
        paramsKey: reentryKey(f),
        signType: ctx.signType,
        totalFee: Number(fee),
        body: f.body as string,
        attach: f.attach ?? "",
        deviceInfo: f.device_info ?? "",
        openid: f.openid ?? "",
        tradeType,
        notifyUrl: f.notify_url as string,
        timeStart: f.time_start ?? "",
        timeExpire: f.time_expire ?? "",
        timeExpireMs: expireMs,
        createdAt: t,
        prepayId: "",
        prepayIssuedAt: 0,
        state: "NOTPAY",
        transactionId: null,
        timeEnd: null,
        paidAt: null,
        closedAt: null,
        bankType: "OTHERS",
        refunds: [],
      };
      orders.set(outTradeNo, order);
      issuePrepay(order);
    } else if (!prepayValid(order, t)) {
      issuePrepay(order); // re-entry after 2 h: a fresh prepay_id (reference §3.4)
    }
    return signedReply(ctx, {
      device_info: f.device_info,
      result_code: "SUCCESS",
      prepay_id: order.prepayId,
      trade_type: tradeType,
      code_url: tradeType === "NATIVE" ? `weixin://wxpay/bizpayurl?pr=${randomNonce(7)}` : undefined,
      mweb_url: tradeType === "MWEB" ? `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${order.prepayId}&package=${randomDigits(10)}` : undefined,
    });
  }

  // ───── orderquery / closeorder ─────

  function findOrder(f: Record<string, string>): Order | undefined {
    if (present(f, "transaction_id")) return byTransactionId.get(f.transaction_id as string);
    return orders.get(f.out_trade_no as string);
  }

  function paidFields(order: Order): Record<string, string | undefined> {
    return {
      device_info: order.deviceInfo || undefined,
      openid: order.openid || openidFor("payer", order.appId),
      is_subscribe: "N",
      trade_type: order.tradeType,
      bank_type: order.bankType,
      total_fee: String(order.totalFee),
      fee_type: "CNY",
      cash_fee: String(order.totalFee),
      transaction_id: order.transactionId ?? undefined,
      out_trade_no: order.outTradeNo,
      attach: order.attach || undefined,
      time_end: order.timeEnd ?? undefined,
    };
  }

  function orderQuery(ctx: Ctx): Response {
    const order = findOrder(ctx.fields);
    if (!order) return bizFail(ctx, "ORDERNOTEXIST", "订单不存在");
    const state = order.state;
    if (state === "NOTPAY") {
      // a real NOTPAY reply carries only the minimal fields (reference §6.1)
      return signedReply(ctx, {
        device_info: "",
        result_code: "SUCCESS",
        total_fee: String(order.totalFee),
        out_trade_no: order.outTradeNo,
        trade_state: "NOTPAY",
        trade_state_desc: TRADE_STATE_DESC.NOTPAY,
      });
    }
    if (state === "CLOSED") {
      return signedReply(ctx, {
        result_code: "SUCCESS",
        device_info: order.deviceInfo || undefined,
        openid: order.openid || undefined,
        is_subscribe: "N",
        trade_type: order.tradeType,
        total_fee: String(order.totalFee),
        fee_type: "CNY",
        out_trade_no: order.outTradeNo,
        attach: order.attach || undefined,
        trade_state: "CLOSED",
        trade_state_desc: TRADE_STATE_DESC.CLOSED,
      });
    }
    return signedReply(ctx, { result_code: "SUCCESS", ...paidFields(order), trade_state: state, trade_state_desc: TRADE_STATE_DESC[state] });
  }

  function closeOrder(ctx: Ctx): Response {
    const order = orders.get(ctx.fields.out_trade_no as string);
    if (!order) return bizFail(ctx, "ORDERNOTEXIST", "订单不存在");
    if (order.state === "SUCCESS" || order.state === "REFUND") return bizFail(ctx, "ORDERPAID", "订单已支付，不能发起关单");
    if (order.state === "CLOSED") return bizFail(ctx, "ORDERCLOSED", "订单已关闭，无法重复关闭");
    // "do not call closeorder within 5 minutes of placing the order": WeChat's exact answer is not
    // documented; the simulator answers the retryable SYSTEMERROR seen in real closeorder replies.
    if (now() < order.createdAt + o.closeMinAgeSeconds * 1000) return bizFail(ctx, "SYSTEMERROR", "system error");
    order.state = "CLOSED";
    order.closedAt = now();
    return signedReply(ctx, { result_code: "SUCCESS", result_msg: "OK" });
  }

  // ───── refunds ─────

  function refundedFee(order: Order): number {
    return order.refunds.filter((r) => r.status !== "REFUNDCLOSE").reduce((s, r) => s + r.refundFee, 0);
  }

  function refund(ctx: Ctx): Response {
    const f = ctx.fields;
    let order: Order | undefined;
    if (present(f, "transaction_id")) {
      // transaction_id wins over out_trade_no (reference §7.1)
      order = byTransactionId.get(f.transaction_id as string);
      if (!order && present(f, "out_trade_no") && orders.has(f.out_trade_no as string)) return bizFail(ctx, "INVALID_TRANSACTIONID", "无效transaction_id");
    } else order = orders.get(f.out_trade_no as string);
    if (!order || (order.state !== "SUCCESS" && order.state !== "REFUND")) return bizFail(ctx, "ORDERNOTEXIST", "订单不存在");
    if (present(f, "refund_fee_type") && f.refund_fee_type !== "CNY") return bizFail(ctx, "PARAM_ERROR", "退款币种与支付币种不一致");
    const totalFee = parseInt64(f.total_fee as string) as bigint;
    const refundFee = parseInt64(f.refund_fee as string) as bigint;
    if (refundFee <= 0n) return bizFail(ctx, "PARAM_ERROR", "refund_fee参数错误，退款金额必须大于0");
    if (totalFee !== BigInt(order.totalFee)) return bizFail(ctx, "REFUND_FEE_MISMATCH", REFUND_MISMATCH_DES);
    const outRefundNo = f.out_refund_no as string;
    if (!/^[0-9A-Za-z_\-|*@]+$/.test(outRefundNo)) return envelopeFail("out_refund_no参数格式错误");
    const prior = refundsByNo.get(outRefundNo);
    let r: Refund;
    if (prior) {
      if (prior.outTradeNo !== order.outTradeNo) return bizFail(ctx, "INVALID_REQUEST", "商户退款单号重复，请核实后再试");
      if (BigInt(prior.refundFee) !== refundFee) return bizFail(ctx, "REFUND_FEE_MISMATCH", REFUND_MISMATCH_DES);
      r = prior; // idempotent: same out_refund_no and amount → the same refund
    } else {
      if (order.refunds.length >= 50) return bizFail(ctx, "ERROR", "退款次数超过限制，一笔订单最多可以退款50次");
      const already = refundedFee(order);
      if (already >= order.totalFee) return bizFail(ctx, "ERROR", "订单已全额退款");
      if (BigInt(already) + refundFee > BigInt(order.totalFee)) return bizFail(ctx, "ERROR", "累计退款金额大于支付金额");
      r = {
        outRefundNo,
        refundId: "503" + randomDigits(8) + beijingDate(now()) + randomDigits(10),
        outTradeNo: order.outTradeNo,
        transactionId: order.transactionId as string,
        totalFee: order.totalFee,
        refundFee: Number(refundFee),
        status: "PROCESSING",
        createdAt: now(),
        successAt: null,
        notifyUrl: present(f, "notify_url") ? (f.notify_url as string) : (o.refundNotifyUrl ?? null),
        refundDesc: f.refund_desc ?? "",
      };
      order.refunds.push(r);
      refundsByNo.set(outRefundNo, r);
      order.state = "REFUND";
      if (o.autoCompleteRefundsAfterMs !== undefined && o.autoCompleteRefundsAfterMs >= 0 && !closed) {
        const t = setTimeout(() => {
          timers.delete(t);
          if (r.status === "PROCESSING" && refundsByNo.get(r.outRefundNo) === r) completeRefund(r, "SUCCESS", "normal");
        }, o.autoCompleteRefundsAfterMs);
        t.unref?.();
        timers.add(t);
      }
    }
    return signedReply(ctx, {
      result_code: "SUCCESS",
      transaction_id: order.transactionId ?? undefined,
      out_trade_no: order.outTradeNo,
      out_refund_no: r.outRefundNo,
      refund_id: r.refundId,
      refund_channel: "",
      refund_fee: String(r.refundFee),
      total_fee: String(order.totalFee),
      fee_type: "CNY",
      cash_fee: String(order.totalFee),
      cash_refund_fee: String(r.refundFee),
    });
  }

  function refundQuery(ctx: Ctx): Response {
    const f = ctx.fields;
    let list: Refund[];
    let order: Order | undefined;
    let orderLevel = false;
    if (present(f, "refund_id")) {
      const r = [...refundsByNo.values()].find((x) => x.refundId === f.refund_id);
      list = r ? [r] : [];
      order = r ? orders.get(r.outTradeNo) : undefined;
    } else if (present(f, "out_refund_no")) {
      const r = refundsByNo.get(f.out_refund_no as string);
      list = r ? [r] : [];
      order = r ? orders.get(r.outTradeNo) : undefined;
    } else {
      orderLevel = true;
      order = findOrder(f);
      list = order ? order.refunds : [];
    }
    if (!order || list.length === 0) return bizFail(ctx, "REFUNDNOTEXIST", "not exist");
    let offset = 0;
    if (present(f, "offset")) {
      const n = parseInt64(f.offset as string) as bigint;
      if (n < 0n || n >= BigInt(list.length)) return bizFail(ctx, "PARAM_ERROR", "offset is invalid");
      offset = Number(n);
    }
    const page = list.slice(offset, offset + 10);
    const out: Record<string, string | undefined> = {
      result_code: "SUCCESS",
      total_refund_count: orderLevel && (list.length > 10 || present(f, "offset")) ? String(list.length) : undefined,
      transaction_id: order.transactionId ?? undefined,
      out_trade_no: order.outTradeNo,
      total_fee: String(order.totalFee),
      fee_type: "CNY",
      cash_fee: String(order.totalFee),
      refund_count: String(page.length),
    };
    page.forEach((r, n) => {
      out[`out_refund_no_${n}`] = r.outRefundNo;
      out[`refund_id_${n}`] = r.refundId;
      out[`refund_channel_${n}`] = "ORIGINAL";
      out[`refund_fee_${n}`] = String(r.refundFee);
      out[`settlement_refund_fee_${n}`] = String(r.refundFee);
      out[`refund_status_${n}`] = r.status;
      out[`refund_account_${n}`] = "REFUND_SOURCE_UNSETTLED_FUNDS";
      out[`refund_recv_accout_${n}`] = "支付用户零钱";
      if (r.successAt !== null) out[`refund_success_time_${n}`] = beijingDashed(r.successAt);
    });
    return signedReply(ctx, out);
  }

  // ───── downloadbill ─────

  function downloadBill(ctx: Ctx): Response {
    const f = ctx.fields;
    const billDate = f.bill_date as string;
    if (!isValidDate8(billDate)) return envelopeFail("invalid bill_date");
    const billType = (present(f, "bill_type") ? f.bill_type : "ALL") as string;
    if (!["ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND"].includes(billType)) return envelopeFail("invalid bill_type");
    if (present(f, "tar_type") && f.tar_type !== "GZIP") return envelopeFail("invalid tar_type: Only GZIP supported");
    const trades: BillTrade[] = [];
    const refunds: BillRefund[] = [];
    for (const order of orders.values()) {
      if (order.paidAt === null || order.transactionId === null || order.state === "PAYERROR") continue;
      const base = {
        appId: order.appId,
        mchId: order.mchId,
        deviceInfo: order.deviceInfo,
        transactionId: order.transactionId,
        outTradeNo: order.outTradeNo,
        openid: order.openid || openidFor("payer", order.appId),
        tradeType: order.tradeType,
        bankType: order.bankType,
        totalFee: order.totalFee,
        body: order.body,
        attach: order.attach,
      };
      if (beijingDate(order.paidAt) === billDate) trades.push({ ...base, time: order.paidAt });
      for (const r of order.refunds) {
        if (beijingDate(r.createdAt) !== billDate) continue;
        refunds.push({ ...base, requestTime: r.createdAt, successTime: r.successAt, refundId: r.refundId, outRefundNo: r.outRefundNo, refundFee: r.refundFee, status: r.status });
      }
    }
    const text = renderBill({ billType: billType as BillType, trades, refunds, bom: o.bill?.bom, eol: o.bill?.eol });
    if (text === null) return envelopeFail("No Bill Exist", { error_code: "20002" });
    if (f.tar_type === "GZIP") {
      return new Response(new Uint8Array(gzipSync(Buffer.from(text, "utf8"))), { status: 200, headers: { "Content-Type": "application/x-gzip" } });
    }
    return new Response(text, { status: 200, headers: { "Content-Type": "text/plain;charset=utf-8" } });
  }

  // ───── playing the user: pay, notify ─────

  function payNotifyXml(order: Order, result: "SUCCESS" | "FAIL", includeSignType: boolean): string {
    const f: Record<string, string | undefined> = {
      appid: order.appId,
      mch_id: order.mchId,
      nonce_str: randomNonce(32),
      result_code: result,
      err_code: result === "FAIL" ? "PAYERROR" : undefined,
      err_code_des: result === "FAIL" ? "支付失败" : undefined,
      return_code: "SUCCESS",
      sign_type: includeSignType ? order.signType : undefined,
      ...paidFields(order),
    };
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(f).sort()) if (f[k] !== undefined) sorted[k] = f[k] as string;
    sorted.sign = sign(sorted, o.apiKey, order.signType);
    return buildXml(sorted);
  }

  function enqueueCopies(kind: "pay" | "refund", url: string, body: string, outTradeNo: string, outRefundNo: string | null, mode: string, copies: number): string[] {
    const ids: string[] = [];
    const n = mode === "duplicate" || mode === "concurrent" ? copies : 1;
    let prev: string | null = null;
    for (let i = 1; i <= n; i++) {
      const d: Delivery = notifier.enqueue({ kind, url, body, outTradeNo, outRefundNo, copy: i, after: mode === "duplicate" ? prev : null });
      ids.push(d.id);
      prev = d.id;
    }
    notifier.pump();
    return ids;
  }

  function controlPay(body: Record<string, unknown>): Response {
    const p = body.payment as Record<string, unknown> | undefined;
    if (!p || typeof p !== "object") throw new ControlError(400, "BAD_REQUEST", "body.payment is required: exactly what the backend returned for wx.requestPayment");
    for (const k of ["timeStamp", "nonceStr", "package", "signType", "paySign"]) {
      if (typeof p[k] !== "string" || p[k] === "") throw new ControlError(400, "MISSING_PARAM", `调用支付JSAPI缺少参数: payment.${k} must be a non-empty string`);
    }
    const pay = p as Record<"timeStamp" | "nonceStr" | "package" | "signType" | "paySign", string>;
    const result = body.result ?? "SUCCESS";
    if (result !== "SUCCESS" && result !== "FAIL") throw new ControlError(400, "BAD_REQUEST", "result must be SUCCESS or FAIL");
    const notify = body.notify ?? "normal";
    if (!["normal", "none", "duplicate", "concurrent"].includes(notify as string)) throw new ControlError(400, "BAD_REQUEST", "notify must be normal, none, duplicate or concurrent");
    const copies = body.copies ?? (notify === "concurrent" ? 3 : 2);
    if (typeof copies !== "number" || !Number.isInteger(copies) || copies < 1 || copies > 50) throw new ControlError(400, "BAD_REQUEST", "copies must be an integer 1..50");
    const m = /^prepay_id=(.+)$/.exec(pay.package);
    if (!m) throw new ControlError(400, "BAD_PACKAGE", `调用支付JSAPI缺少参数: total_fee (package must be "prepay_id=<prepay_id>", got ${JSON.stringify(pay.package)})`);
    const prepay = prepays.get(m[1] as string);
    const order = prepay ? orders.get(prepay.outTradeNo) : undefined;
    if (!prepay || !order) throw new ControlError(404, "UNKNOWN_PREPAY_ID", `unknown prepay_id ${JSON.stringify(m[1])}`);
    if (order.state === "SUCCESS" || order.state === "REFUND") throw new ControlError(409, "ORDER_PAID", `order ${order.outTradeNo} is already paid`);
    if (order.state === "CLOSED") throw new ControlError(409, "ORDER_CLOSED", `order ${order.outTradeNo} is closed`);
    if (order.state === "PAYERROR") throw new ControlError(409, "ORDER_PAYERROR", `order ${order.outTradeNo} failed to pay; place a new order`);
    if (order.tradeType !== "JSAPI") throw new ControlError(400, "NOT_JSAPI", `order ${order.outTradeNo} is ${order.tradeType}; only JSAPI orders are paid with wx.requestPayment`);
    const t = now();
    if (order.prepayId !== m[1] || t >= prepay.issuedAt + o.prepayValiditySeconds * 1000) {
      throw new ControlError(410, "PREPAY_EXPIRED", `该订单已过期，请重新下单 (prepay_id older than ${o.prepayValiditySeconds} s or replaced)`);
    }
    if (order.timeExpireMs !== null && t >= order.timeExpireMs) throw new ControlError(410, "ORDER_EXPIRED", `该订单已过期，请重新下单 (past time_expire ${order.timeExpire})`);
    if (!/^\d{10}$/.test(pay.timeStamp)) throw new ControlError(400, "BAD_TIMESTAMP", `支付验证签名失败: timeStamp must be Unix seconds as a 10-digit string, got ${JSON.stringify(pay.timeStamp)}`);
    if (pay.nonceStr.length > 32) throw new ControlError(400, "BAD_NONCE", "nonceStr must be at most 32 characters");
    if (!isSignType(pay.signType)) throw new ControlError(400, "BAD_SIGN_TYPE", `支付验证签名失败: signType must be MD5 or HMAC-SHA256, got ${JSON.stringify(pay.signType)}`);
    if (pay.signType !== order.signType) throw new ControlError(400, "SIGN_TYPE_MISMATCH", `支付验证签名失败: signType ${pay.signType} differs from the unifiedorder sign type ${order.signType}`);
    const expected = paySign({ appId: order.appId, timeStamp: pay.timeStamp, nonceStr: pay.nonceStr, package: pay.package, signType: pay.signType }, o.apiKey);
    if (!signEquals(expected, pay.paySign)) {
      throw new ControlError(400, "BAD_PAYSIGN", `支付验证签名失败: paySign does not verify over appId=${order.appId}, timeStamp, nonceStr, package, signType with the API key (${pay.signType})`);
    }
    order.transactionId = "42000" + randomDigits(5) + beijingDate(t) + randomDigits(10);
    order.timeEnd = beijingCompact(t);
    order.paidAt = t;
    order.state = result === "SUCCESS" ? "SUCCESS" : "PAYERROR";
    byTransactionId.set(order.transactionId, order);
    const xml = payNotifyXml(order, result, body.includeSignType === true);
    const deliveryIds = notify === "none" ? [] : enqueueCopies("pay", order.notifyUrl, xml, order.outTradeNo, null, notify as string, copies);
    log(`pay ${order.outTradeNo} ${result} → ${order.transactionId}, ${deliveryIds.length} notification(s)`);
    return jsonResponse({ outTradeNo: order.outTradeNo, transactionId: order.transactionId, state: order.state, deliveryIds });
  }

  function completeRefund(r: Refund, status: "SUCCESS" | "REFUNDCLOSE" | "CHANGE", notify: "normal" | "none"): string[] {
    const t = now();
    r.status = status;
    r.successAt = status === "SUCCESS" ? t : null;
    if (notify === "none") return [];
    if (!r.notifyUrl) {
      log(`refund ${r.outRefundNo} ${status}: no notify_url (request had none, no refundNotifyUrl configured) → no notification`);
      return [];
    }
    const order = orders.get(r.outTradeNo) as Order;
    const plain: Record<string, string> = {
      out_refund_no: r.outRefundNo,
      out_trade_no: r.outTradeNo,
      refund_account: "REFUND_SOURCE_UNSETTLED_FUNDS",
      refund_fee: String(r.refundFee),
      refund_id: r.refundId,
      refund_recv_accout: "支付用户零钱",
      refund_request_source: "API",
      refund_status: status,
      settlement_refund_fee: String(status === "REFUNDCLOSE" ? 0 : r.refundFee),
      settlement_total_fee: String(r.totalFee),
      total_fee: String(r.totalFee),
      transaction_id: r.transactionId,
    };
    if (r.successAt !== null) plain.success_time = beijingDashed(r.successAt);
    const reqInfo = encryptReqInfo(refundNotifyPlaintext(plain), o.apiKey);
    const xml = buildXml({ return_code: "SUCCESS", appid: order.appId, mch_id: order.mchId, nonce_str: randomNonce(16), req_info: reqInfo }, { plain: ["return_code"] });
    return enqueueCopies("refund", r.notifyUrl, xml, r.outTradeNo, r.outRefundNo, "normal", 1);
  }

  // ───── views ─────

  function refundView(r: Refund) {
    return {
      outRefundNo: r.outRefundNo,
      refundId: r.refundId,
      outTradeNo: r.outTradeNo,
      transactionId: r.transactionId,
      totalFee: r.totalFee,
      refundFee: r.refundFee,
      status: r.status,
      createdAt: r.createdAt,
      successTime: r.successAt === null ? null : beijingDashed(r.successAt),
      notifyUrl: r.notifyUrl,
      refundDesc: r.refundDesc,
    };
  }

  function orderView(order: Order) {
    return {
      outTradeNo: order.outTradeNo,
      appId: order.appId,
      mchId: order.mchId,
      state: order.state,
      totalFee: order.totalFee,
      body: order.body,
      attach: order.attach,
      openid: order.openid,
      tradeType: order.tradeType,
      signType: order.signType,
      notifyUrl: order.notifyUrl,
      prepayId: order.prepayId,
      prepayIssuedAt: order.prepayIssuedAt,
      prepayExpiresAt: order.prepayIssuedAt + o.prepayValiditySeconds * 1000,
      timeStart: order.timeStart || null,
      timeExpire: order.timeExpire || null,
      createdAt: order.createdAt,
      transactionId: order.transactionId,
      timeEnd: order.timeEnd,
      paidAt: order.paidAt,
      closedAt: order.closedAt,
      refundedFee: refundedFee(order),
      refunds: order.refunds.map(refundView),
    };
  }

  function deliveryView(d: Delivery) {
    return {
      id: d.id,
      kind: d.kind,
      url: d.url,
      outTradeNo: d.outTradeNo,
      outRefundNo: d.outRefundNo,
      copy: d.copy,
      status: d.status,
      acknowledged: d.status === "acknowledged",
      createdAt: d.createdAt,
      nextAttemptAt: d.nextAttemptAt,
      body: d.body,
      attempts: d.attempts,
    };
  }

  // ───── control API ─────

  async function readJson(request: Request): Promise<Record<string, unknown>> {
    const text = await request.text();
    if (text.trim() === "") return {};
    try {
      const v: unknown = JSON.parse(text);
      if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new ControlError(400, "BAD_JSON", "body must be a JSON object");
  }

  function reset() {
    orders.clear();
    byTransactionId.clear();
    prepays.clear();
    refundsByNo.clear();
    usedCodes.clear();
    openids.clear();
    received = [];
    faults.clear();
    for (const done of [...hangs]) done();
    for (const t of timers) clearTimeout(t);
    timers.clear();
    notifier.reset();
    offsetMs = 0;
  }

  async function control(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const method = request.method;
    const route = `${method} ${path}`;
    let m: RegExpExecArray | null;
    const res = await (async (): Promise<Response> => {
      if (route === "POST /__sim/pay") return controlPay(await readJson(request));
      if (route === "POST /__sim/refunds/complete") {
        const b = await readJson(request);
        const r = typeof b.outRefundNo === "string" ? refundsByNo.get(b.outRefundNo) : undefined;
        if (!r) throw new ControlError(404, "UNKNOWN_REFUND", `unknown outRefundNo ${JSON.stringify(b.outRefundNo)}`);
        const status = b.status ?? "SUCCESS";
        if (status !== "SUCCESS" && status !== "REFUNDCLOSE" && status !== "CHANGE") throw new ControlError(400, "BAD_REQUEST", "status must be SUCCESS, REFUNDCLOSE or CHANGE");
        const notify = b.notify ?? "normal";
        if (notify !== "normal" && notify !== "none") throw new ControlError(400, "BAD_REQUEST", "notify must be normal or none");
        if (r.status !== "PROCESSING" && r.status !== "CHANGE") throw new ControlError(409, "REFUND_FINAL", `refund ${r.outRefundNo} is already ${r.status}`);
        const deliveryIds = completeRefund(r, status, notify);
        log(`refund ${r.outRefundNo} → ${status}, ${deliveryIds.length} notification(s)`);
        return jsonResponse({ outRefundNo: r.outRefundNo, refundId: r.refundId, status: r.status, deliveryIds });
      }
      if (route === "POST /__sim/faults") {
        const b = await readJson(request);
        if (typeof b.path !== "string" || (b.path !== LOGIN_PATH && !(API_PATHS as readonly string[]).includes(b.path))) {
          throw new ControlError(400, "BAD_REQUEST", `path must be one of ${[LOGIN_PATH, ...API_PATHS].join(", ")}`);
        }
        if (!(FAULTS as readonly unknown[]).includes(b.fault)) throw new ControlError(400, "BAD_REQUEST", `fault must be one of ${FAULTS.join(", ")}`);
        const times = b.times ?? 1;
        if (typeof times !== "number" || !Number.isInteger(times) || times < 1) throw new ControlError(400, "BAD_REQUEST", "times must be a positive integer");
        const fault: Fault = { fault: b.fault as FaultKind, remaining: times };
        if (typeof b.errCode === "string") fault.errCode = b.errCode;
        if (typeof b.errCodeDes === "string") fault.errCodeDes = b.errCodeDes;
        const q = faults.get(b.path) ?? [];
        q.push(fault);
        faults.set(b.path, q);
        return jsonResponse({ path: b.path, faults: q });
      }
      if (route === "GET /__sim/faults") return jsonResponse({ faults: Object.fromEntries(faults) });
      if (route === "GET /__sim/received") {
        const p = url.searchParams.get("path");
        return jsonResponse({ requests: p ? received.filter((r) => r.path === p) : received });
      }
      if (route === "GET /__sim/orders") return jsonResponse({ orders: [...orders.values()].map(orderView) });
      if (method === "GET" && (m = /^\/__sim\/orders\/([^/]+)$/.exec(path))) {
        const order = orders.get(decodeURIComponent(m[1] as string));
        if (!order) throw new ControlError(404, "UNKNOWN_ORDER", `no order ${decodeURIComponent(m[1] as string)}`);
        return jsonResponse(orderView(order));
      }
      if (method === "GET" && (m = /^\/__sim\/refunds\/([^/]+)$/.exec(path))) {
        const r = refundsByNo.get(decodeURIComponent(m[1] as string));
        if (!r) throw new ControlError(404, "UNKNOWN_REFUND", `no refund ${decodeURIComponent(m[1] as string)}`);
        return jsonResponse(refundView(r));
      }
      if (route === "GET /__sim/deliveries") {
        const ot = url.searchParams.get("outTradeNo");
        const list = notifier.list().filter((d) => !ot || d.outTradeNo === ot);
        return jsonResponse({ deliveries: list.map(deliveryView) });
      }
      if (route === "POST /__sim/deliveries/take") {
        const b = await readJson(request);
        const max = b.max === undefined ? Infinity : b.max;
        if (typeof max !== "number" || max < 0) throw new ControlError(400, "BAD_REQUEST", "max must be a non-negative number");
        return jsonResponse({ deliveries: notifier.take(max) });
      }
      if (method === "POST" && (m = /^\/__sim\/deliveries\/([^/]+)\/result$/.exec(path))) {
        const b = await readJson(request);
        if (typeof b.error !== "string" && typeof b.status !== "number") throw new ControlError(400, "BAD_REQUEST", 'body must be {"status": number, "body": string} or {"error": string}');
        const r = notifier.report(decodeURIComponent(m[1] as string), {
          status: typeof b.status === "number" ? b.status : undefined,
          body: typeof b.body === "string" ? b.body : "",
          error: typeof b.error === "string" ? b.error : undefined,
        });
        return jsonResponse(r);
      }
      if (route === "POST /__sim/reset") {
        reset();
        return jsonResponse({ ok: true });
      }
      if (route === "GET /__sim/clock") return jsonResponse({ now: now(), offsetMs });
      if (route === "POST /__sim/clock") {
        const b = await readJson(request);
        if (typeof b.advanceSeconds !== "number" || !Number.isFinite(b.advanceSeconds) || b.advanceSeconds < 0) {
          throw new ControlError(400, "BAD_REQUEST", "advanceSeconds must be a non-negative number");
        }
        offsetMs += Math.round(b.advanceSeconds * 1000);
        notifier.pump();
        return jsonResponse({ now: now(), offsetMs });
      }
      if (route === "POST /__sim/openid") {
        const b = await readJson(request);
        if (typeof b.user !== "string" || b.user === "") throw new ControlError(400, "BAD_REQUEST", "user must be a non-empty string");
        const appId = typeof b.appId === "string" && b.appId ? b.appId : o.appId;
        return jsonResponse({ openid: openidFor(b.user, appId), appId });
      }
      if (route === "GET /__sim/health") return jsonResponse({ ok: true, appId: o.appId, mchId: o.mchId, delivery: o.delivery });
      throw new ControlError(404, "NOT_FOUND", `no control endpoint ${route}`);
    })();
    log(`${route} → ${res.status}`);
    return res;
  }

  return {
    async fetch(request: Request): Promise<Response> {
      try {
        return await handle(request);
      } catch (e) {
        log(`${request.method} ${new URL(request.url).pathname} → 500 simulator error: ${(e as Error).message}`);
        return new Response(`simulator error: ${(e as Error).message}`, { status: 500, headers: { "Content-Type": "text/plain" } });
      }
    },
    close() {
      closed = true;
      notifier.close();
      for (const done of [...hangs]) done();
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
    idle: () => notifier.idle(),
    now,
    openidFor: (user: string, appId?: string) => openidFor(user, appId ?? o.appId),
  };
}
