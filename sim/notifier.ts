// Notification delivery with WeChat's retry schedules. Pay and refund notifications (documented with the
// payment and refund result notifications: pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=9_7
// and chapter=9_16) and mini-program message pushes (sim/push.ts) each have their ack rule and schedule.
// Two transports share one state machine:
//   "http"   the simulator POSTs the body itself (fetch, the delivery's Content-Type, abort after ackTimeoutMs);
//   "outbox" a test harness takes due deliveries, delivers them, and reports the reply back.
// Either way the same ack rule applies: for pay/refund, HTTP 200 whose body is <xml> with return_code
// SUCCESS; for a push, HTTP 200 whose body is empty or "success"; for an API v3 callback, HTTP 200 or 204
// (https://pay.weixin.qq.com/doc/v3/merchant/4012075420). A v3 callback is signed afresh for each attempt
// (its `prepare`), so a retry a day later still carries a current timestamp.
import { parseFlatXml } from "./xml.ts";

/** Intervals in seconds between sends: initial send + these 15 retries (= 16 sends, 24h04m span). */
export const RETRY_SCHEDULE_SECONDS = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

/**
 * Message push: "微信服务器在五秒内收不到响应会断掉连接，并且重新发起请求，总共重试三次" — read as three
 * sends in all, each retry right after the failed one (see sim/README.md, Decisions).
 */
export const PUSH_RETRY_SCHEDULE_SECONDS = [0, 0];

export type DeliveryKind = "pay" | "refund" | "push";
export type DeliveryStatus = "pending" | "in_flight" | "acknowledged" | "gave_up" | "cancelled";

export interface Attempt {
  n: number;
  at: number;
  /** API v3 callbacks: the headers and body this attempt carried (signed for this attempt) */
  headers?: Record<string, string>;
  sentBody?: string;
  finishedAt: number | null;
  status: number | null;
  body: string | null;
  error: string | null;
  acknowledged: boolean;
}

export interface Delivery {
  id: string;
  kind: DeliveryKind;
  /** "v3": a JSON callback, acknowledged by HTTP 200/204, signed per attempt by `prepare` */
  api: "v2" | "v3";
  url: string;
  body: string;
  /** the Content-Type it is sent with: text/xml, or application/json for JSON pushes */
  contentType: string;
  /** the push's Event (null for pay / refund notifications) */
  event: string | null;
  outTradeNo: string;
  outRefundNo: string | null;
  /** 1-based copy number when several copies of the same notification were requested */
  copy: number;
  /** this delivery's first send waits until that delivery's first attempt has finished (sequential duplicates) */
  after: string | null;
  createdAt: number;
  status: DeliveryStatus;
  nextAttemptAt: number | null;
  attempts: Attempt[];
  /** the headers and body of attempt n (v3 callbacks); absent = `body` with the Content-Type only */
  prepare: ((attempt: number) => { headers: Record<string, string>; body: string }) | null;
  /** the retry intervals (seconds) of this delivery when not its kind's schedule ([] = one send only) */
  retries: number[] | null;
}

/** The v2 acknowledgement: HTTP 200 and an <xml> body with return_code SUCCESS. Plain "SUCCESS" is not one. */
export function isAck(status: number, body: string): boolean {
  if (status !== 200) return false;
  try {
    return parseFlatXml(body).return_code === "SUCCESS";
  } catch {
    return false;
  }
}

/** An API v3 callback is acknowledged by HTTP 200 or 204, whatever the body. */
export function isV3Ack(status: number): boolean {
  return status === 200 || status === 204;
}

/** A push is acknowledged by HTTP 200 with an empty body or "success" ("回复空串或者success即可"). */
export function isPushAck(status: number, body: string): boolean {
  return status === 200 && (body.trim() === "" || body.trim() === "success");
}

/** Each kind's ack rule and retry intervals. */
const POLICY: Record<DeliveryKind, { ack: (status: number, body: string) => boolean; retries: number[] }> = {
  pay: { ack: isAck, retries: RETRY_SCHEDULE_SECONDS },
  refund: { ack: isAck, retries: RETRY_SCHEDULE_SECONDS },
  push: { ack: isPushAck, retries: PUSH_RETRY_SCHEDULE_SECONDS },
};

/** What a caller gives to enqueue one notification. */
export interface NewDelivery {
  kind: DeliveryKind;
  url: string;
  body: string;
  outTradeNo: string;
  outRefundNo?: string | null;
  contentType?: string;
  event?: string | null;
  copy?: number;
  after?: string | null;
  api?: "v2" | "v3";
  prepare?: (attempt: number) => { headers: Record<string, string>; body: string };
  retries?: number[];
}

export interface NotifierOptions {
  mode: "http" | "outbox";
  timeScale: number;
  ackTimeoutMs: number;
  now: () => number;
  fetch: typeof fetch;
  log: (line: string) => void;
}

export class Notifier {
  readonly deliveries = new Map<string, Delivery>();
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private closed = new AbortController();
  private o: NotifierOptions;
  private inflight = new Set<Promise<void>>();

  constructor(o: NotifierOptions) {
    this.o = o;
  }

  enqueue(d: NewDelivery): Delivery {
    const id = `d${++this.seq}`;
    const del: Delivery = {
      id,
      kind: d.kind,
      api: d.api ?? "v2",
      url: d.url,
      body: d.body,
      contentType: d.contentType ?? "text/xml",
      event: d.event ?? null,
      outTradeNo: d.outTradeNo,
      outRefundNo: d.outRefundNo ?? null,
      copy: d.copy ?? 1,
      after: d.after ?? null,
      createdAt: this.o.now(),
      status: "pending",
      nextAttemptAt: this.o.now(),
      attempts: [],
      prepare: d.prepare ?? null,
      retries: d.retries ?? null,
    };
    this.deliveries.set(id, del);
    return del;
  }

  /**
   * Enqueues a notification and sends what is due. `mode` "duplicate" enqueues `copies` copies, each
   * waiting for the previous copy's first attempt; "concurrent" enqueues `copies` copies due at once.
   * Returns the delivery ids.
   */
  enqueueCopies(
    d: NewDelivery,
    mode: "normal" | "duplicate" | "concurrent",
    copies: number,
  ): string[] {
    const ids: string[] = [];
    const n = mode === "normal" ? 1 : copies;
    let prev: string | null = null;
    for (let i = 1; i <= n; i++) {
      const del = this.enqueue({ ...d, copy: i, after: mode === "duplicate" ? prev : null });
      ids.push(del.id);
      prev = del.id;
    }
    this.pump();
    return ids;
  }

  private isDue(d: Delivery, now: number): boolean {
    if (d.status !== "pending" || d.nextAttemptAt === null || d.nextAttemptAt > now) return false;
    if (d.after) {
      const prev = this.deliveries.get(d.after);
      if (prev && !prev.attempts.some((a) => a.finishedAt !== null) && prev.status !== "cancelled") return false;
    }
    return true;
  }

  /** Outbox: hand out due deliveries (they become in flight until their result is reported). */
  take(max = Infinity): { id: string; kind: DeliveryKind; url: string; body: string; contentType: string; headers?: Record<string, string>; event: string | null; attempt: number }[] {
    const now = this.o.now();
    const out = [];
    for (const d of this.deliveries.values()) {
      if (out.length >= max) break;
      if (!this.isDue(d, now)) continue;
      const a = this.startAttempt(d);
      out.push({ id: d.id, kind: d.kind, url: d.url, body: a.sentBody ?? d.body, contentType: d.contentType, ...(a.headers ? { headers: a.headers } : {}), event: d.event, attempt: a.n });
    }
    return out;
  }

  private startAttempt(d: Delivery): Attempt {
    const a: Attempt = { n: d.attempts.length + 1, at: this.o.now(), finishedAt: null, status: null, body: null, error: null, acknowledged: false };
    if (d.prepare) {
      const prepared = d.prepare(a.n);
      a.headers = prepared.headers;
      a.sentBody = prepared.body;
    }
    d.attempts.push(a);
    d.status = "in_flight";
    d.nextAttemptAt = null;
    return a;
  }

  /** Record the outcome of the current attempt and schedule the next one (shared by both transports). */
  report(id: string, r: { status?: number; body?: string; error?: string }): { acknowledged: boolean; nextAttemptAt: number | null } {
    const d = this.deliveries.get(id);
    if (!d) throw new NotifierError(404, `unknown delivery ${id}`);
    if (d.status !== "in_flight") throw new NotifierError(409, `delivery ${id} is not in flight (status ${d.status})`);
    const a = d.attempts[d.attempts.length - 1] as Attempt;
    a.finishedAt = this.o.now();
    a.status = typeof r.status === "number" ? r.status : null;
    a.body = typeof r.body === "string" ? r.body : null;
    a.error = typeof r.error === "string" ? r.error : null;
    const policy = POLICY[d.kind];
    const ack = d.api === "v3" ? isV3Ack : policy.ack;
    a.acknowledged = a.error === null && a.status !== null && ack(a.status, a.body ?? "");
    if (a.acknowledged) {
      d.status = "acknowledged";
      d.nextAttemptAt = null;
    } else {
      const interval = (d.retries ?? policy.retries)[d.attempts.length - 1];
      if (interval === undefined) {
        d.status = "gave_up";
        d.nextAttemptAt = null;
      } else {
        d.status = "pending";
        d.nextAttemptAt = a.finishedAt + Math.round(interval * 1000 * this.o.timeScale);
      }
    }
    this.o.log(
      `notify ${d.event ?? d.kind} ${d.outRefundNo ?? d.outTradeNo} #${a.n} → ${a.error ?? a.status} ${a.acknowledged ? "ACK" : d.status === "gave_up" ? "not acknowledged, giving up" : "not acknowledged"}`,
    );
    this.pump();
    return { acknowledged: a.acknowledged, nextAttemptAt: d.nextAttemptAt };
  }

  /** HTTP mode: send everything due now and arm a timer for the next due delivery. No-op in outbox mode. */
  pump(): void {
    if (this.o.mode !== "http" || this.closed.signal.aborted) return;
    const now = this.o.now();
    let next = Infinity;
    for (const d of this.deliveries.values()) {
      if (this.isDue(d, now)) this.send(d);
      else if (d.status === "pending" && d.nextAttemptAt !== null && d.nextAttemptAt > now) next = Math.min(next, d.nextAttemptAt);
    }
    if (next === Infinity) return;
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, next - now));
    this.timer.unref?.();
  }

  private send(d: Delivery): void {
    const a = this.startAttempt(d);
    const p = (async () => {
      let result: { status?: number; body?: string; error?: string };
      try {
        const signal = AbortSignal.any([this.closed.signal, AbortSignal.timeout(this.o.ackTimeoutMs)]);
        const headers = { "Content-Type": d.contentType, ...a.headers };
        const res = await this.o.fetch(d.url, { method: "POST", headers, body: a.sentBody ?? d.body, signal });
        const body = await res.text();
        result = { status: res.status, body };
      } catch (e) {
        const err = e as Error;
        result = { error: err.name === "TimeoutError" || err.name === "AbortError" ? `timeout after ${this.o.ackTimeoutMs} ms` : String(err.message || err) };
      }
      // closed, or reset while this send was in flight: nothing left to report to
      if (this.closed.signal.aborted || this.deliveries.get(d.id) !== d || d.status !== "in_flight") return;
      this.report(d.id, result);
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Wait for all HTTP sends currently in flight (tests). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  list(): Delivery[] {
    return [...this.deliveries.values()];
  }

  reset(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    for (const d of this.deliveries.values()) if (d.status === "pending" || d.status === "in_flight") d.status = "cancelled";
    this.deliveries.clear();
  }

  close(): void {
    this.closed.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export class NotifierError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}
