// The simulator's state: its options, clock, orders, refunds, issued codes and openids, access tokens,
// shipments, received requests, queued faults, pending timers and the notifier. One SimState per
// createSimulator(); every handler (sim/login.ts, sim/trades.ts, sim/shipping.ts, …) reads and changes it explicitly.
import { md5Hex, stableTag } from "./crypto.ts";
import type { SignType } from "./crypto.ts";
import type { Fault } from "./faults.ts";
import { Notifier } from "./notifier.ts";
import { isEncodingAesKey } from "./pushcrypto.ts";
import { TokenStore } from "./tokens.ts";
import { V3State } from "./v3/trust.ts";
import type { V3Options } from "./v3/trust.ts";

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
  /** closeorder refuses (SYSTEMERROR) orders younger than this. Default 300 (WeChat's documented minimum) */
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
  /** message push URL (消息推送配置). Default: the order's notify_url origin + /wechat/miniprogram/push */
  pushUrl?: string;
  /** message push Token (signature). Pushes are refused (409 PUSH_NOT_CONFIGURED) while it is unset */
  pushToken?: string;
  /** message push EncodingAESKey (43 characters): set = safe mode (encrypted), unset = plain mode */
  pushAesKey?: string;
  /** message push data format. Default "json" */
  pushFormat?: "json" | "xml";
  /** the mini program's original ID (ToUserName of pushes). Default "gh_" + 12 hex derived from appId */
  originalId?: string;
  /** send the shipping-time trade_manage_order_settlement push when an upload completes shipping. Default false */
  autoPushOnShipping?: boolean;
  /** WeChat Pay API v3: merchant certificate, APIv3 key, WeChat Pay's keys and the trust mode (sim/v3/trust.ts). Default: the TEST-ONLY keys */
  v3?: V3Options;
}

/** The message push configuration in force (options, changed by POST /__sim/push until a reset). */
export interface PushConfig {
  url: string | null;
  token: string | null;
  aesKey: string | null;
  format: "json" | "xml";
}

/** SimulatorOptions with every default filled in. */
export type ResolvedOptions = SimulatorOptions &
  Required<Pick<SimulatorOptions, "timeScale" | "closeMinAgeSeconds" | "prepayValiditySeconds" | "ackTimeoutMs" | "faultTimeoutMs" | "acceptLowercaseSign">>;

export type TradeState = "NOTPAY" | "SUCCESS" | "REFUND" | "CLOSED" | "PAYERROR";
export type RefundStatus = "PROCESSING" | "SUCCESS" | "REFUNDCLOSE" | "CHANGE";

export interface Order {
  /** the Pay API that placed it: "v2" (XML /pay/unifiedorder) or "v3" (JSON /v3/pay/transactions/jsapi) */
  api: "v2" | "v3";
  appId: string;
  mchId: string;
  outTradeNo: string;
  /** the re-entry comparison key of the request that created it (sim/trades.ts, sim/v3/transactions.ts) */
  paramsKey: string;
  /** the v2 request's sign type; "RSA" for v3 orders (their paySign is RSA) */
  signType: SignType | "RSA";
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

/** One uploaded package (shipping_list item) as get_order shows it. */
export interface Package {
  trackingNo: string;
  expressCompany: string;
  itemDesc: string;
  consignorContact: string;
  receiverContact: string;
  uploadedAt: number;
}

/** The shipping information of one paid order (sim/shipping.ts), keyed by transaction_id. */
export interface Shipment {
  transactionId: string;
  logisticsType: number;
  deliveryMode: number;
  /** shipping complete: unified delivery, or split delivery with is_all_delivered */
  finished: boolean;
  /** finish_shipping_count: 1 after shipping, 2 after a re-ship */
  finishCount: number;
  packages: Package[];
  /** upload_time of the last accepted upload (epoch ms): a later upload must be newer */
  lastUploadTime: number;
  /** the last accepted upload without its upload_time (an identical one → 10060023) */
  lastKey: string;
  reshipUsed: boolean;
  shippedAt: number | null;
  confirmedAt: number | null;
  /** confirm_receive_method: 1 automatic, 2 by the user */
  confirmMethod: 1 | 2 | null;
  settledAt: number | null;
}

export interface Refund {
  /** the Pay API that requested it: its notification and views follow that API */
  api: "v2" | "v3";
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

/** One request as the simulator received it (GET /__sim/received). */
export interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  fields: Record<string, string> | null;
  raw: string;
  at: number;
  /** API v3 calls: the route template (e.g. /v3/pay/transactions/out-trade-no/{out_trade_no}) and the request headers */
  route?: string;
  headers?: Record<string, string>;
}

const MAX_RECEIVED = 2000;

export class SimState {
  readonly options: ResolvedOptions;
  readonly log: (line: string) => void;
  readonly notifier: Notifier;
  readonly orders = new Map<string, Order>();
  readonly byTransactionId = new Map<string, Order>();
  readonly prepays = new Map<string, { outTradeNo: string; issuedAt: number }>();
  readonly refundsByNo = new Map<string, Refund>();
  /** jscode2session codes already exchanged (a code works once) */
  readonly usedCodes = new Set<string>();
  /** openid → the appid it was issued under */
  readonly openids = new Map<string, string>();
  /** path → its queue of scripted faults (sim/faults.ts) */
  readonly faults = new Map<string, Fault[]>();
  /** releases of the requests a "timeout" fault keeps hanging */
  readonly hangs = new Set<() => void>();
  /** stable access tokens (sim/tokens.ts) */
  readonly tokens = new TokenStore();
  /** transaction_id → its shipping information */
  readonly shipments = new Map<string, Shipment>();
  /** is_trade_managed / is_trade_management_confirmation_completed (POST /__sim/shipping/settings) */
  tradeManaged = true;
  confirmationCompleted = true;
  push: PushConfig;
  /** the API v3 keys, trust mode and bill tokens */
  readonly v3: V3State;
  received: Received[] = [];
  /** added by POST /__sim/clock */
  offsetMs = 0;
  closed = false;
  private readonly baseNow: () => number;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: SimulatorOptions) {
    this.options = {
      timeScale: 1,
      closeMinAgeSeconds: 300,
      prepayValiditySeconds: 7200,
      ackTimeoutMs: 5000,
      faultTimeoutMs: 30000,
      acceptLowercaseSign: false,
      ...options,
    };
    if (this.options.apiKey.length !== 32) throw new Error("apiKey must be the 32-character API v2 key");
    if (this.options.pushAesKey !== undefined && !isEncodingAesKey(this.options.pushAesKey)) throw new Error("pushAesKey must be a 43-character EncodingAESKey");
    this.push = this.configuredPush();
    this.v3 = new V3State(this.options.v3);
    this.baseNow = this.options.now ?? Date.now;
    this.log = this.options.log ?? (() => {});
    const fetcher = this.options.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
    this.notifier = new Notifier({
      mode: this.options.delivery,
      timeScale: this.options.timeScale,
      ackTimeoutMs: this.options.ackTimeoutMs,
      now: () => this.now(),
      fetch: fetcher,
      log: this.log,
    });
  }

  /** The message push configuration of the options. */
  private configuredPush(): PushConfig {
    const o = this.options;
    return { url: o.pushUrl ?? null, token: o.pushToken ?? null, aesKey: o.pushAesKey ?? null, format: o.pushFormat ?? "json" };
  }

  /** The mini program's original ID (gh_…), the ToUserName of every push. */
  originalId(): string {
    return this.options.originalId ?? "gh_" + md5Hex(`original:${this.options.appId}`).slice(0, 12);
  }

  /** The simulator clock (epoch ms): the configured clock plus the /__sim/clock offset. */
  now(): number {
    return this.baseNow() + this.offsetMs;
  }

  /**
   * The configured clock without the /__sim/clock offset: API v3 signature timestamps (checked and sent)
   * follow it, because the merchant's clock does not move with the offset — advancing the simulated
   * clock to make retries due must not make every signature look 5 minutes stale.
   */
  wallClock(): number {
    return this.baseNow();
  }

  /** The deterministic openid of `user` under `appId`, remembered so unifiedorder can check the pair. */
  openidFor(user: string, appId = this.options.appId): string {
    const id = "o" + stableTag(`openid:${appId}:${user}`);
    this.openids.set(id, appId);
    return id;
  }

  /** Keeps a received request for GET /__sim/received (the newest MAX_RECEIVED). */
  record(r: Received): void {
    this.received.push(r);
    if (this.received.length > MAX_RECEIVED) this.received = this.received.slice(-MAX_RECEIVED);
  }

  /** A real (unref'd) timer that reset() and close() cancel. */
  later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref?.();
    this.timers.add(t);
    return t;
  }

  /** Cancels a timer armed by later() before it fires. */
  cancel(t: ReturnType<typeof setTimeout>): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  /** POST /__sim/reset: forget everything, release hanging faults, cancel timers and deliveries. */
  reset(): void {
    this.orders.clear();
    this.byTransactionId.clear();
    this.prepays.clear();
    this.refundsByNo.clear();
    this.usedCodes.clear();
    this.openids.clear();
    this.received = [];
    this.faults.clear();
    this.tokens.reset();
    this.shipments.clear();
    this.tradeManaged = true;
    this.confirmationCompleted = true;
    this.push = this.configuredPush();
    this.v3.reset();
    this.releaseHangsAndTimers();
    this.notifier.reset();
    this.offsetMs = 0;
  }

  /** Simulator.close(): stop delivering, release hanging faults, cancel timers. */
  close(): void {
    this.closed = true;
    this.notifier.close();
    this.releaseHangsAndTimers();
  }

  private releaseHangsAndTimers(): void {
    for (const done of [...this.hangs]) done();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
