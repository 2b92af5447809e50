/**
 * Worker entry: HTTP through the Hono app; the cron runs the reconciliation job and re-sends merchant
 * events the Queue lost; the Queue consumer delivers merchant events to the merchant's endpoint.
 */
import { app } from "./app";
import { loadConfig } from "./config";
import { logEvent } from "./log";
import { buildDeps } from "./orders/deps";
import { runReconciliation } from "./orders/reconcile";
import { retryDueShipments } from "./orders/shipments";
import { consumeEventBatch } from "./webhooks/consumer";
import { resendOverdueEvents, sendNewEvents } from "./webhooks/outbox";

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
    try {
      await runReconciliation(deps);
      await retryDueShipments(deps);
    } finally {
      await sendNewEvents(deps.db, env.EVENTS_QUEUE, deps.outbox, config.config.webhook.url !== null);
      if (config.config.webhook.url && env.EVENTS_QUEUE) {
        const resent = await resendOverdueEvents(deps.db, env.EVENTS_QUEUE, deps.now().getTime());
        if (resent > 0) logEvent("merchant_events_resent", { count: resent });
      }
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
