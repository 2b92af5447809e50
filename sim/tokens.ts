// The stable access token (POST /cgi-bin/stable_token, getStableAccessToken) and the token check of
// every call made with ?access_token=. Rules from WeChat's documentation of getStableAccessToken
// (developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken.html):
//   - normal mode returns the same token while it is valid; in its last 5 minutes a call gets a new
//     one, and the old one stays usable until it expires ("平台会提前5分钟更新access_token");
//   - force_refresh: true invalidates the previous token and returns a new one, at most 20 times a
//     day (then 45009) and 30 s apart ("否则不会刷新": a call within 30 s returns the current token).
// Calls: no token → 41001, unknown or invalidated → 40001, expired → 42001.
import { randomBytes } from "node:crypto";
import { signEquals } from "./crypto.ts";
import type { SimState } from "./state.ts";
import { beijingDate } from "./time.ts";
import { wxError, wxReply } from "./wxapi.ts";
import type { WxCall } from "./wxapi.ts";

/** A stable access token lives 7200 s ("目前是7200秒之内的值"). */
export const TOKEN_LIFETIME_SECONDS = 7200;
const RENEW_BEFORE_MS = 5 * 60 * 1000;
const FORCE_REFRESH_PER_DAY = 20;
const FORCE_REFRESH_GAP_MS = 30 * 1000;

interface IssuedToken {
  value: string;
  issuedAt: number;
  expiresAt: number;
  /** invalidated by a force refresh (→ 40001, not 42001) */
  revoked: boolean;
}

/** Every access token the simulator issued, the current one and the force-refresh history. */
export class TokenStore {
  private readonly issued = new Map<string, IssuedToken>();
  private current: IssuedToken | null = null;
  private forcedAt: number[] = [];
  private seq = 0;

  /** The current token while it is usable at `now` (not revoked, not expired). */
  private live(now: number): IssuedToken | null {
    const c = this.current;
    return c && !c.revoked && now < c.expiresAt ? c : null;
  }

  private issue(now: number): IssuedToken {
    // Shaped like real ones: "<n>_" and ~130 url-safe characters (callers must keep 512 characters).
    const value = `${++this.seq}_${randomBytes(96).toString("base64url")}`;
    const t: IssuedToken = { value, issuedAt: now, expiresAt: now + TOKEN_LIFETIME_SECONDS * 1000, revoked: false };
    this.issued.set(value, t);
    this.current = t;
    return t;
  }

  /** Normal mode: the current token, or a new one when there is none or it is in its last 5 minutes. */
  normal(now: number): IssuedToken {
    const c = this.live(now);
    return c && now < c.expiresAt - RENEW_BEFORE_MS ? c : this.issue(now);
  }

  /** Force-refresh mode: a new token that invalidates every earlier one, or 45009 past the daily limit. */
  force(now: number): IssuedToken | "quota" {
    const last = this.forcedAt[this.forcedAt.length - 1];
    const c = this.live(now);
    if (c && last !== undefined && now - last < FORCE_REFRESH_GAP_MS) return c; // "不会刷新"
    const today = beijingDate(now);
    this.forcedAt = this.forcedAt.filter((t) => beijingDate(t) === today);
    if (this.forcedAt.length >= FORCE_REFRESH_PER_DAY) return "quota";
    for (const t of this.issued.values()) t.revoked = true;
    this.forcedAt.push(now);
    return this.issue(now);
  }

  /** The errcode refusing a call made with `value`, or null when the token is usable. */
  check(value: string | null, now: number): { errcode: number; errmsg: string } | null {
    if (!value) return { errcode: 41001, errmsg: "access_token missing" };
    const t = this.issued.get(value);
    if (!t || t.revoked) return { errcode: 40001, errmsg: "invalid credential, access_token is invalid or not latest" };
    if (now >= t.expiresAt) return { errcode: 42001, errmsg: "access_token expired" };
    return null;
  }

  /** Expire every token now (the "token expired mid-way" fault and POST /__sim/tokens/expire); returns how many were live. */
  expireAll(now: number): number {
    let n = 0;
    for (const t of this.issued.values()) {
      if (!t.revoked && now < t.expiresAt) n++;
      t.expiresAt = Math.min(t.expiresAt, now);
    }
    return n;
  }

  /** GET /__sim/tokens: never the token itself, only its last 6 characters. */
  view(now: number) {
    const c = this.current;
    const today = beijingDate(now);
    return {
      current: c ? { tail: c.value.slice(-6), issuedAt: c.issuedAt, expiresAt: c.expiresAt, usable: this.check(c.value, now) === null } : null,
      issued: this.issued.size,
      forceRefreshesToday: this.forcedAt.filter((t) => beijingDate(t) === today).length,
    };
  }

  reset(): void {
    this.issued.clear();
    this.current = null;
    this.forcedAt = [];
  }
}

/** POST /cgi-bin/stable_token: JSON {grant_type, appid, secret, force_refresh?}. */
export function stableToken(s: SimState, call: WxCall): Response {
  const b = call.body;
  for (const k of ["grant_type", "appid", "secret"]) if (b[k] !== undefined && typeof b[k] !== "string") return wxError(47001, "data format error");
  if (b.force_refresh !== undefined && typeof b.force_refresh !== "boolean") return wxError(47001, "data format error");
  if (!b.appid) return wxError(41002, "appid missing");
  if (!b.secret) return wxError(41004, "appsecret missing");
  if (b.grant_type !== "client_credential") return wxError(40002, "invalid grant_type");
  if (b.appid !== s.options.appId) return wxError(40013, "invalid appid");
  if (!signEquals(s.options.appSecret, b.secret as string)) return wxError(40125, "invalid appsecret");
  const now = s.now();
  const t = b.force_refresh === true ? s.tokens.force(now) : s.tokens.normal(now);
  if (t === "quota") return wxError(45009, "reach max api daily quota limit");
  return wxReply({ access_token: t.value, expires_in: Math.ceil((t.expiresAt - now) / 1000) });
}
