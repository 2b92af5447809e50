/**
 * Who may use /admin, and who they are. Two credentials:
 * - `Authorization: Bearer <ADMIN_TOKEN>` (constant-time compare): actor "token";
 * - with ACCESS_TEAM_DOMAIN and ACCESS_AUD set, a Cloudflare Access token in `Cf-Access-Jwt-Assertion`
 *   (auth/access.ts): actor the Access identity's email (a service token's common_name).
 * A request with an Authorization header is judged by it alone (a wrong bearer is a 401 even behind
 * Access); without Access configured the Access header is ignored. A user's session token is refused.
 * Sets `actor` and `authVia` for the routes, which record the actor on every admin action's event.
 */
import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import { verifyAccessToken } from "../auth/access";
import { ApiError } from "../errors";
import { logEvent } from "../log";
import { requireBearer } from "./bearer";
import type { AppEnv } from "./types";

// hono's timingSafeEqual hashes both sides, then compares in constant time whatever the lengths.
const adminBearer = requireBearer(async (token, c) => {
  if (!(await timingSafeEqual(token, c.var.config.adminToken))) return false;
  c.set("actor", "token");
  c.set("authVia", "token");
  return true;
});

/** The /admin guard: the ADMIN_TOKEN bearer, or a valid Cloudflare Access token when Access is configured. */
export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const access = c.var.config.access;
  const assertion = access ? c.req.header("cf-access-jwt-assertion") : undefined;
  if (!access || !assertion || c.req.header("authorization") !== undefined) return adminBearer(c, next);
  const result = await verifyAccessToken(assertion, access);
  if (result.ok) {
    c.set("actor", result.actor);
    c.set("authVia", "access");
    return next();
  }
  logEvent("admin_access_refused", { reason: result.reason });
  // Our side cannot check the token right now: not the caller's fault, and worth retrying.
  if (result.unavailable) throw new ApiError(503, "ACCESS_UNAVAILABLE", "Cloudflare Access keys could not be fetched; try again shortly", { "retry-after": "30" });
  throw new ApiError(401, "UNAUTHORIZED", "missing or invalid Cloudflare Access token");
});
