/**
 * Worker entry: HTTP through the Hono app; the cron runs the reconciliation job and re-sends merchant
 * events the Queue lost; the Queue consumer delivers merchant events to the merchant's endpoint.
 */
import { app } from "./app";
import { loadConfig } from "./config";
import { logEvent } from "./log";
import { buildDeps } from "./orders/deps";
import { runReconciliation } from "./orders/reconcile";
import { retryDueShipments, SHIPMENT_RETRY_COST } from "./orders/shipments";

/** Per-invocation limits of the free plan. */
const FREE_PLAN_D1_QUERIES = 50;
const FREE_PLAN_SUBREQUESTS = 50;
/** The outbox's share of a cron run: the overdue re-send (one UPDATE) and the new-work send (one batch). */
const OUTBOX_QUERIES = 2;
import { consumeEventBatch } from "./webhooks/consumer";
import { resendOverdueEvents, sendNewQueueWork } from "./webhooks/outbox";

export default {
  fetch: app.fetch,

  async scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
    const config = loadConfig(env);
    if (!config.ok) {
      // Problems are named on GET /health; without a valid config there is nothing safe to do.
      logEvent("reconcile_skipped", { cron: controller.cron, problems: config.problems.length });
      return;
    }
    const deps = buildDeps(env, config.config);
    // One invocation's budget (50 D1 queries and 50 subrequests on the free plan): the v3 certificate
    // refresh at most 1 subrequest (2 if the run outlasts the 60 s download throttle; KV, not D1), the
    // reconciliation job at most DEFAULT_RECONCILE_LIMITS; re-sending lost Queue work (2 queries, 1-2 sends)
    // comes next, so a busy day never starves it; shipment retries get what is left.
    // Platform certificates first (certificate or migrating mode; at most one download, cached in KV),
    // so the replies the reconciliation verifies find their keys.
    const v3Trust = config.config.v3 ? deps.v3Trust() : null;
    if (v3Trust) logEvent("v3_certificates_refresh", { outcome: await v3Trust.refreshIfStale().catch(() => "failed" as const) });
    const summary = await runReconciliation(deps);
    // /v3/certificates downloads (the refresh above, or one for an unknown serial during the run) are subrequests too.
    const trustDownloads = v3Trust?.downloads ?? 0;
    try {
      if (config.config.webhook.url && env.EVENTS_QUEUE) {
        const resent = await resendOverdueEvents(deps.db, env.EVENTS_QUEUE, deps.now().getTime());
        if (resent > 0) logEvent("merchant_events_resent", { count: resent });
      }
      const room = Math.floor((FREE_PLAN_D1_QUERIES - summary.d1Queries - OUTBOX_QUERIES) / SHIPMENT_RETRY_COST.d1);
      const subrequestsLeft = FREE_PLAN_SUBREQUESTS - summary.wechatCalls - trustDownloads - 2;
      await retryDueShipments(deps, Math.max(0, Math.min(room, Math.floor(subrequestsLeft / SHIPMENT_RETRY_COST.wechat))));
    } finally {
      await sendNewQueueWork(deps.db, env.EVENTS_QUEUE, deps.outbox, config.config.webhook.url !== null);
    }
  },

  async queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
    const config = loadConfig(env);
    if (!config.ok) {
      // Nothing can be signed without a valid config: the messages come back later.
      logEvent("merchant_events_skipped", { problems: config.problems.length });
      batch.retryAll({ delaySeconds: 300 });
      return;
    }
    const deps = buildDeps(env, config.config);
    await consumeEventBatch(batch, deps);
  },
} satisfies ExportedHandler<Env>;
