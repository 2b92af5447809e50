/** wx.login code → jscode2session → user upsert → our session token (README, POST /api/login). */
import type { Config } from "../config";
import { ApiError } from "../errors";
import { logEvent } from "../log";
import { code2Session, type Code2SessionResult } from "../miniprogram/code2session";
import { upsertUser } from "../store/users";
import { issueSessionToken } from "./token";

/**
 * jscode2session calls in flight in this isolate, by code. A code is single-use at WeChat, so a
 * double-tapped login would otherwise make the second call fail with 40163; concurrent requests with
 * the same code share one call instead (best effort: only within one isolate).
 */
const inFlight = new Map<string, Promise<Code2SessionResult>>();

function exchangeCode(config: Config, code: string): Promise<Code2SessionResult> {
  let call = inFlight.get(code);
  if (!call) {
    call = code2Session({ apiBase: config.apiBase, appId: config.appId, secret: config.appSecret, code, fetch: (req: Request) => fetch(req) })
      .finally(() => inFlight.delete(code));
    inFlight.set(code, call);
  }
  return call;
}

export async function login(config: Config, db: D1Database, code: string, now: Date): Promise<{ token: string; expiresIn: number }> {
  const result = await exchangeCode(config, code);
  if (!result.ok) {
    logEvent("login_failed", { kind: result.kind, errcode: result.kind === "wechat" ? result.errcode : null });
    throw loginError(result.kind === "wechat" ? result.errcode : null);
  }
  const user = await upsertUser(db, {
    id: crypto.randomUUID(),
    openid: result.openid,
    unionid: result.unionid,
    sessionKey: result.sessionKey,
    now: now.getTime(),
  });
  return issueSessionToken(config.sessionSecret, user.id, now);
}

function loginError(errcode: number | null): ApiError {
  switch (errcode) {
    case 40029:
    case 40163:
      return new ApiError(401, "INVALID_CODE", "the login code is invalid, expired or already used; call wx.login again");
    case 45011:
      return new ApiError(429, "RATE_LIMITED", "too many logins; retry in a minute", { "Retry-After": "60" });
    case 40226:
      return new ApiError(403, "RISKY_USER", "WeChat blocked this login (risk control)");
    default:
      return new ApiError(502, "UPSTREAM_ERROR", "WeChat login is unavailable; try again");
  }
}
