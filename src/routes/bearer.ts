/**
 * `Authorization: Bearer <token>` for /api (session tokens) and /admin (ADMIN_TOKEN; admin-auth.ts) through
 * hono/bearer-auth. Every refusal — no header, a malformed one, a token `verify` rejects — is an
 * HTTPException 401, which app.ts answers as the JSON error UNAUTHORIZED.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { AppEnv } from "./types";

/** hono answers a malformed header with 400; to a client it is a missing credential like any other. */
const unauthorized = () => new Response(null, { status: 401 });

/** Lets the request through only when `verify` accepts the bearer token. */
export function requireBearer(verify: (token: string, c: Context<AppEnv>) => Promise<boolean>): MiddlewareHandler<AppEnv> {
  return bearerAuth<AppEnv>({ verifyToken: verify, invalidAuthenticationHeader: { message: unauthorized } });
}
