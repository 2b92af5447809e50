/** The configuration guard in front of every route but /health. */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { loadConfig } from "../config";
import { buildDeps } from "../orders/deps";
import type { AppEnv } from "./types";

/**
 * Sets `config` and `deps` from a valid configuration, or answers `refuse(c)` (JSON for /api and
 * /admin, FAIL XML for WeChat) without running the route. Problems are named on GET /health only.
 */
export function requireConfig(refuse: (c: Context<AppEnv>) => Response) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const result = loadConfig(c.env);
    if (!result.ok) return refuse(c);
    c.set("config", result.config);
    c.set("deps", buildDeps(c.env, result.config));
    await next();
  });
}
