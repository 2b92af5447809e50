/** POST /api/login and the session middleware for the rest of /api. */
import { Hono } from "hono/tiny";
import { badRequest } from "../errors";
import { login } from "../sessions/login";
import { verifySessionToken } from "../sessions/token";
import { getUser } from "../store/users";
import { requireBearer } from "./bearer";
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

/** Requires `Authorization: Bearer <session token>` of a known user; sets userId and openid. */
export const requireUser = requireBearer(async (token, c) => {
  const userId = await verifySessionToken(c.var.config.sessionSecret, token);
  const user = userId ? await getUser(c.env.DB, userId) : null;
  if (!user) return false;
  c.set("userId", user.id);
  c.set("openid", user.openid);
  return true;
});
