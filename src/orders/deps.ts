/** What the order services need, built once per request (or per scheduled run) from the Env. */
import type { Config } from "../config";
import { trackEventWrites, type OutboxTracker } from "../webhooks/outbox";
import { WechatPayClient } from "../wechatpay/client";
import type { SignType } from "../wechatpay/sign";

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
  /** A WeChat Pay client pinned to one signature algorithm (orders keep the one they were placed with). */
  payClient: (signType?: SignType) => WechatPayClient;
  /** Whether this request or run wrote to `events` (so it may have created merchant events). */
  outbox: OutboxTracker;
  /** The merchant-event Queue (absent only in a misconfigured deployment: the cron then re-sends). */
  queue: Queue | undefined;
}

export function buildDeps(env: Env, config: Config, now: () => Date = () => new Date()): Deps {
  const clients = new Map<SignType, WechatPayClient>();
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
    payClient(signType = config.signType) {
      let client = clients.get(signType);
      if (!client) {
        client = new WechatPayClient({
          appId: config.appId,
          mchId: config.mchId,
          key: config.payKey,
          previousKeys: config.previousPayKeys,
          signType,
          payBase: config.payBase,
          // Late-bound so tests can spy on globalThis.fetch.
          fetch: (req: Request) => fetch(req),
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
