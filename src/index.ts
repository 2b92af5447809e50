/** Worker entry: HTTP through the Hono app, cron through the reconciliation job. */
import { app } from "./app";
import { loadConfig } from "./config";
import { logEvent } from "./log";
import { buildDeps } from "./orders/deps";
import { runReconciliation } from "./orders/reconcile";

export default {
  fetch: app.fetch,
  async scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
    const config = loadConfig(env);
    if (!config.ok) {
      // Problems are named on GET /health; without a valid config there is nothing safe to do.
      logEvent("reconcile_skipped", { cron: controller.cron, problems: config.problems.length });
      return;
    }
    await runReconciliation(buildDeps(env, config.config));
  },
} satisfies ExportedHandler<Env>;
