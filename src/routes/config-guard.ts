/** The configuration guard in front of every route but /health. */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { loadConfig } from "../config";
import { buildDeps } from "../orders/deps";
import { sendNewQueueWork } from "../webhooks/outbox";
import type { AppEnv } from "./types";

/**
 * Sets `config` and `deps` from a valid configuration, or answers `refuse(c)` (JSON for /api and
 * /admin, FAIL XML for WeChat) without running the route. Problems are named on GET /health only.
 * After the route, the merchant events it created (if it wrote any change) are sent to the Queue.
 */
export function requireConfig(refuse: (c: Context<AppEnv>) => Response) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const result = loadConfig(c.env);
    if (!result.ok) return refuse(c);
    c.set("config", result.config);
    const deps = buildDeps(c.env, result.config);
    c.set("deps", deps);
    await next();
    // Merchant events this request created go to the Queue after the answer is decided.
    if (deps.outbox.wrote) await afterResponse(c, () => sendNewQueueWork(deps.db, deps.queue, deps.outbox, deps.config.webhook.url !== null));
  });
}

/**
 * Runs `work` after the response: through waitUntil, started on a later task so it never competes
 * with handing the answer back. Without an execution context (app.request in tests) it is awaited.
 */
async function afterResponse(c: Context<AppEnv>, work: () => Promise<unknown>): Promise<void> {
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined;
  }
  if (!ctx) return void (await work());
  ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, 0)).then(work));
}
