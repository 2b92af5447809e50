/** What the order services need, built once per request (or per scheduled run) from the Env. */
import type { Config } from "../config";
import { ApiError } from "../errors";
import { trackEventWrites, type OutboxTracker } from "../webhooks/outbox";
import { WechatPayClient } from "../wechatpay/client";
import type { SignType } from "../wechatpay/sign";
import type { WechatPayV3Client } from "../wechatpay/v3/client";
import { v3Access } from "./v3/access";
import type { V3Trust } from "./v3/trust";

/**
 * downloadbill body cap. A parsed bill takes several times its size in memory (a Worker has 128 MB)
 * and parsing costs CPU in proportion: 5 MiB is roughly 20,000 rows.
 */
export const MAX_BILL_BYTES = 5 * 1024 * 1024;

export interface Deps {
  config: Config;
  db: D1Database;
  kv: KVNamespace;
  now: () => Date;
  /**
   * A WeChat Pay API v2 client pinned to one signature algorithm (orders keep the one they were
   * placed with). Throws {@link v2KeyMissing} when no WECHAT_PAY_KEY is set (possible under v3).
   */
  payClient: (signType?: SignType) => WechatPayClient;
  /** The WeChat Pay API v3 client, one per Deps (rejects with a 503 CONFIG_ERROR without v3 credentials). */
  v3Client: () => Promise<WechatPayV3Client>;
  /** The v3 trust store the client verifies with (callbacks and the cron use it too). */
  v3Trust: () => V3Trust;
  /** Whether this request or run wrote to `events` (so it may have created merchant events). */
  outbox: OutboxTracker;
  /** The merchant-event Queue (absent only in a misconfigured deployment: the cron then re-sends). */
  queue: Queue | undefined;
}

/** 503: an order placed under v2 needs WECHAT_PAY_KEY, which this deployment (on v3) does not set. */
export const v2KeyMissing = () =>
  new ApiError(503, "CONFIG_ERROR", "WECHAT_PAY_KEY is not set: orders placed with WeChat Pay API v2 need it; see GET /health");

export function buildDeps(env: Env, config: Config, now: () => Date = () => new Date()): Deps {
  const clients = new Map<SignType, WechatPayClient>();
  // Late-bound so tests can spy on globalThis.fetch.
  const fetchLate = (req: Request) => fetch(req);
  const v3 = v3Access({ config, kv: env.NOTIFY_KV, now, fetch: fetchLate, maxBillBytes: MAX_BILL_BYTES });
  // /secapi/* needs the merchant certificate; without the binding only a non-WeChat base (the
  // simulator) is allowed, which loadConfig() already enforces.
  const cert = env.WXPAY_CERT;
  const certFetch = cert ? (req: Request) => cert.fetch(req) : undefined;
  const outbox: OutboxTracker = { since: now().getTime(), wrote: false };
  return {
    config,
    db: trackEventWrites(env.DB, outbox),
    kv: env.NOTIFY_KV,
    now,
    outbox,
    queue: env.EVENTS_QUEUE,
    v3Client: v3.client,
    v3Trust: v3.trust,
    payClient(signType = config.signType) {
      let client = clients.get(signType);
      if (!client) {
        if (config.payKey === null) throw v2KeyMissing();
        client = new WechatPayClient({
          appId: config.appId,
          mchId: config.mchId,
          key: config.payKey,
          previousKeys: config.previousPayKeys,
          signType,
          payBase: config.payBase,
          fetch: fetchLate,
          ...(certFetch ? { certFetch } : {}),
          now,
          maxBillBytes: MAX_BILL_BYTES,
        });
        clients.set(signType, client);
      }
      return client;
    },
  };
}
