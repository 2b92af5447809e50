/**
 * Calls to the mini-program server API (api.weixin.qq.com) that need an access_token, obtained with
 * `cgi-bin/stable_token`
 * (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html).
 * The token is cached in KV until 5 minutes before it expires and shared by concurrent callers of one
 * isolate (one fetch); when WeChat says it is invalid or expired (40001, 42001) it is fetched again
 * once (normal mode first, which returns WeChat's current token; force_refresh, a daily quota, only
 * if that is the same stale token) and the call repeated. The token and the AppSecret are never
 * logged or returned.
 */
import { readBodyCapped, TransportError, withDeadline } from "../wechatpay/http";

export interface OpenApiDeps {
  apiBase: string;
  appId: string;
  appSecret: string;
  kv: KVNamespace;
  now: () => Date;
  fetch: (req: Request) => Promise<Response>;
}

/** A JSON reply with errcode 0 (or none), or why not. */
export type OpenApiResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; kind: "wechat"; errcode: number; errmsg: string }
  | { ok: false; kind: "transport"; message: string };

const tokenKey = (appId: string) => `wx:stable_access_token:${appId}`;
/** A cached token is used until this long before it expires (stable_token renews in its last 5 min). */
const RENEW_BEFORE_MS = 5 * 60_000;
const TIMEOUT_MS = 10_000;
const MAX_REPLY_BYTES = 64 * 1024;
/** "access_token invalid or not latest", "access_token expired". */
const STALE_TOKEN = new Set([40001, 42001]);

/** One token fetch per isolate and app at a time: concurrent callers share it. */
const inflight = new Map<string, Promise<OpenApiResult & { token?: string }>>();

/** POSTs `body` as JSON to `path?access_token=…`; refreshes a stale token once. */
export async function callWithToken(deps: OpenApiDeps, path: string, body: unknown): Promise<OpenApiResult> {
  let token = await accessToken(deps, false);
  if (!token.ok) return token;
  let result = await postJson(deps, `${path}?access_token=${encodeURIComponent(token.token)}`, body);
  if (!result.ok && result.kind === "wechat" && STALE_TOKEN.has(result.errcode)) {
    // Another isolate may already have replaced it: stable_token's normal mode returns the current
    // token. Only if that is the same one that just failed is a forced refresh (a daily quota) spent.
    const stale = token.token;
    token = await accessToken(deps, false, true);
    if (token.ok && token.token === stale) token = await accessToken(deps, true);
    if (!token.ok) return token;
    result = await postJson(deps, `${path}?access_token=${encodeURIComponent(token.token)}`, body);
  }
  return result;
}

type TokenResult = { ok: true; token: string } | Exclude<OpenApiResult, { ok: true }>;

/** The cached token, or a new one from stable_token (force: a new token, the old one invalidated). */
export async function accessToken(deps: OpenApiDeps, force: boolean, skipCache = false): Promise<TokenResult> {
  if (!force && !skipCache) {
    const cached = await deps.kv.get<{ token: string; expiresAt: number }>(tokenKey(deps.appId), "json").catch(() => null);
    if (cached && cached.expiresAt - RENEW_BEFORE_MS > deps.now().getTime()) return { ok: true, token: cached.token };
  }
  const key = `${deps.appId}:${force}:${skipCache}`;
  let pending = inflight.get(key);
  if (!pending) {
    pending = fetchToken(deps, force).finally(() => inflight.delete(key));
    inflight.set(key, pending);
  }
  const result = await pending;
  return result.ok ? { ok: true, token: result.token as string } : result;
}

async function fetchToken(deps: OpenApiDeps, force: boolean): Promise<OpenApiResult & { token?: string }> {
  const result = await postJson(deps, "/cgi-bin/stable_token", {
    grant_type: "client_credential",
    appid: deps.appId,
    secret: deps.appSecret,
    ...(force ? { force_refresh: true } : {}),
  });
  if (!result.ok) return result;
  const token = result.body.access_token;
  const expiresIn = result.body.expires_in;
  if (typeof token !== "string" || token === "" || typeof expiresIn !== "number" || expiresIn <= 0) {
    return { ok: false, kind: "transport", message: "malformed stable_token reply" };
  }
  const expiresAt = deps.now().getTime() + expiresIn * 1000;
  // KV keeps it for other isolates; at least 60 s (KV's minimum TTL).
  await deps.kv
    .put(tokenKey(deps.appId), JSON.stringify({ token, expiresAt }), { expirationTtl: Math.max(60, expiresIn - RENEW_BEFORE_MS / 1000) })
    .catch(() => undefined);
  return { ok: true, body: {}, token };
}

/** One JSON POST under the deadline; the URL (it holds the token) never appears in a result. */
async function postJson(deps: OpenApiDeps, pathAndQuery: string, body: unknown): Promise<OpenApiResult> {
  const url = `${deps.apiBase.replace(/\/+$/, "")}${pathAndQuery}`;
  let bytes: Uint8Array;
  try {
    bytes = await withDeadline(TIMEOUT_MS, async (signal) => {
      const res = await deps.fetch(
        new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal }),
      );
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel().catch(() => undefined);
        throw new TransportError(`HTTP ${res.status}`);
      }
      return readBodyCapped(res, MAX_REPLY_BYTES);
    });
  } catch (error) {
    return { ok: false, kind: "transport", message: error instanceof TransportError ? error.message : "request failed" };
  }
  let reply: unknown;
  try {
    reply = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { ok: false, kind: "transport", message: "reply is not JSON" };
  }
  if (typeof reply !== "object" || reply === null || Array.isArray(reply)) return { ok: false, kind: "transport", message: "malformed reply" };
  const fields = reply as Record<string, unknown>;
  const errcode = fields.errcode;
  if (errcode === undefined || errcode === 0) return { ok: true, body: fields };
  if (typeof errcode !== "number") return { ok: false, kind: "transport", message: "malformed reply" };
  return { ok: false, kind: "wechat", errcode, errmsg: typeof fields.errmsg === "string" ? fields.errmsg : "" };
}
