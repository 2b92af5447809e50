/** POST /api/login and the session middleware for the rest of /api. */
import { Hono } from "hono/tiny";
import { createMiddleware } from "hono/factory";
import { ApiError, badRequest } from "../errors";
import { login } from "../sessions/login";
import { verifySessionToken } from "../sessions/token";
import { getUser } from "../store/users";
import { readJsonObject } from "./json";
import { clientIp, enforceRateLimit } from "./rate-limit";
import type { AppEnv } from "./types";

export const authRoutes = new Hono<AppEnv>();

authRoutes.post("/login", async (c) => {
  await enforceRateLimit(c.env.LOGIN_LIMITER, `login:${clientIp(c.req.header("cf-connecting-ip"))}`);
  const body = await readJsonObject(c);
  const code = body.code;
  if (typeof code !== "string" || code === "") throw badRequest("code must be a non-empty string");
  if (code.length > 128) throw badRequest("code must be at most 128 characters");
  const session = await login(c.var.config, c.env.DB, code, c.var.deps.now());
  return c.json(session);
});

const unauthorized = () => new ApiError(401, "UNAUTHORIZED", "missing or invalid session token");

/** Requires `Authorization: Bearer <session token>`; sets userId and openid. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header);
  if (!match?.[1]) throw unauthorized();
  const userId = await verifySessionToken(c.var.config.sessionSecret, match[1]);
  if (!userId) throw unauthorized();
  const user = await getUser(c.env.DB, userId);
  if (!user) throw unauthorized();
  c.set("userId", user.id);
  c.set("openid", user.openid);
  await next();
});
