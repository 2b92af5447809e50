/** Worker entry: HTTP through the Hono app, cron through the reconciliation job. */
import { app } from "./app";
import type { Env } from "./config";

export default {
  fetch: app.fetch,
  async scheduled(_controller: ScheduledController, _env: Env, _ctx: ExecutionContext): Promise<void> {
    // Reconciliation job: see src/orders/reconcile.ts (issue 5).
  },
} satisfies ExportedHandler<Env>;
