/**
 * Configuration: one validated {@link Config} built from the Worker's vars and secrets. The bindings,
 * vars and secrets themselves are the global `Env`, generated from wrangler.jsonc by `npm run types`
 * (worker-configuration.d.ts). The variable names are part of the deployment contract (README,
 * "Configuration").
 */
import { payApiOf, v3ConfigOf, v3ExampleProblems, type PayApi, type V3Config } from "./config-v3";
import type { SignType } from "./wechatpay/sign";

export type { PayApi, V3Config } from "./config-v3";

/** The validated configuration every service works from. */
export interface Config {
  appId: string;
  mchId: string;
  appSecret: string;
  /**
   * WECHAT_PAY_KEY, the API v2 key. Null only when new orders use v3 and no v2 key is set: then
   * every v2 operation (on orders placed under v2) fails with a clear error, and /health says so
   * while any such order is still open.
   */
  payKey: string | null;
  /** Keys still accepted when verifying (key rotation); never used to sign. */
  previousPayKeys: string[];
  signType: SignType;
  /** Absolute notify URLs, or null to derive them from the request origin. */
  notifyUrl: string | null;
  refundNotifyUrl: string | null;
  apiBase: string;
  payBase: string;
  sessionSecret: string;
  adminToken: string;
  orderTtlMinutes: number;
  reconcileDelaySeconds: number;
  /** True when WECHAT_PAY_BASE is WeChat's real merchant API (so mTLS and HTTPS are mandatory). */
  isWechatProduction: boolean;
  /** Merchant events: where they are POSTed (null: kept and listed, not sent) and how they are signed. */
  webhook: WebhookConfig;
  /** Mini-program message push: its Token (null: not configured) and EncodingAESKey (null: plain mode only). */
  push: { token: string | null; aesKey: string | null };
  /** Cloudflare Access in front of /admin (null: only the ADMIN_TOKEN bearer is accepted). */
  access: AccessConfig | null;
  /** WECHAT_PAY_API: the API new orders are placed with (an order keeps its own; orders.api). */
  payApi: PayApi;
  /** The WeChat Pay API v3 credentials whenever they are set (whatever payApi says), else null. */
  v3: V3Config | null;
}

/** ACCESS_TEAM_DOMAIN and ACCESS_AUD, both set: /admin also accepts a Cloudflare Access token. */
export interface AccessConfig {
  /**
   * The team domain as an origin, e.g. `https://shop.cloudflareaccess.com`: the tokens' `iss`, and
   * where the team's signing keys are (`/cdn-cgi/access/certs`).
   */
  teamDomain: string;
  /** The Access application's Audience (AUD) tag: a token must name it in `aud`. */
  aud: string;
}

export interface WebhookConfig {
  /** MERCHANT_WEBHOOK_URL, or null when unset. */
  url: string | null;
  /** Signing keys (the bytes behind `whsec_…`): the current secret first, then the previous one. */
  secrets: Uint8Array[];
  /** First retry delay (WEBHOOK_RETRY_BASE_SECONDS); it doubles, capped at 6 hours. */
  retryBaseSeconds: number;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const WECHAT_PAY_HOSTS = new Set(["api.mch.weixin.qq.com", "api2.mch.weixin.qq.com"]);
const cache = new WeakMap<object, ConfigResult>();

/** Keys and secrets published in WeChat's docs, peer SDK tests and .dev.vars.example. */
const PUBLIC_EXAMPLE_VALUES = new Set([
  "192006250b4c09247ec02edce69f6a2d",
  "qazwsxedcrfvtgbyhnujmikolp111111",
  "local-session-secret-change-me-in-production-0123456789",
  "local-admin-token-change-me",
  "whsec_bVq6EccZz057KvmNOV41258wzBD1gzQ9Hrk1IQSKM2I=",
  "LocalPushToken2026",
  "bG9jYWwtcHVzaC1lbmNvZGluZy1hZXMta2V5LTIwMjY",
]);

/**
 * Validates the environment once per isolate (the env object is stable) and returns either the
 * config or the list of problems. Problems name variables, never their values.
 */
export function loadConfig(env: Env): ConfigResult {
  const cached = cache.get(env);
  if (cached) return cached;
  const result = buildConfig(env);
  cache.set(env, result);
  return result;
}

function buildConfig(env: Env): ConfigResult {
  const problems: string[] = [];
  const required = (name: keyof Env): string => {
    const value = env[name];
    if (typeof value !== "string" || value === "") {
      problems.push(`${name} is missing`);
      return "";
    }
    return value;
  };

  const appId = required("WECHAT_APPID");
  const mchId = required("WECHAT_MCH_ID");
  const appSecret = required("WECHAT_APP_SECRET");
  const payApi = payApiOf(env, problems);
  // A merchant on v3 may hold no v2 key at all (new merchants get only v3 credentials).
  const payKey = payApi === "v3" && !env.WECHAT_PAY_KEY ? null : required("WECHAT_PAY_KEY");
  if (payKey && payKey.length !== 32) problems.push("WECHAT_PAY_KEY must be exactly 32 characters");
  const previousPayKeys = (env.WECHAT_PAY_KEY_PREVIOUS ?? "").split(",").map((k) => k.trim()).filter((k) => k !== "");
  if (previousPayKeys.some((k) => k.length !== 32)) problems.push("WECHAT_PAY_KEY_PREVIOUS must be 32-character keys");

  const signTypeRaw = env.WECHAT_SIGN_TYPE || "MD5";
  let signType: SignType = "MD5";
  if (signTypeRaw === "MD5" || signTypeRaw === "HMAC-SHA256") signType = signTypeRaw;
  else problems.push("WECHAT_SIGN_TYPE must be MD5 or HMAC-SHA256");

  const apiBase = baseUrl("WECHAT_API_BASE", env.WECHAT_API_BASE || "https://api.weixin.qq.com", problems);
  const payBase = baseUrl("WECHAT_PAY_BASE", env.WECHAT_PAY_BASE || "https://api.mch.weixin.qq.com", problems);
  const isWechatProduction = payBase !== "" && WECHAT_PAY_HOSTS.has(new URL(payBase).hostname);
  if (isWechatProduction && !payBase.startsWith("https://")) problems.push("WECHAT_PAY_BASE must use https for WeChat's host");
  // v2 refunds need the merchant certificate (mTLS); v3 needs none.
  if (isWechatProduction && payKey !== null && !env.WXPAY_CERT) {
    problems.push("WXPAY_CERT binding is required when WECHAT_PAY_BASE is WeChat's production host");
  }
  const v3 = v3ConfigOf(env, payApi, payKey === null ? previousPayKeys : [payKey, ...previousPayKeys], problems);

  const notifyUrl = optionalNotifyUrl("WECHAT_NOTIFY_URL", env.WECHAT_NOTIFY_URL, isWechatProduction, problems);
  const refundNotifyUrl = optionalNotifyUrl("WECHAT_REFUND_NOTIFY_URL", env.WECHAT_REFUND_NOTIFY_URL, isWechatProduction, problems);

  const sessionSecret = required("SESSION_SECRET");
  if (sessionSecret && sessionSecret.length < 32) problems.push("SESSION_SECRET must be at least 32 characters");
  const adminToken = required("ADMIN_TOKEN");
  if (adminToken && adminToken.length < 16) problems.push("ADMIN_TOKEN must be at least 16 characters");
  // It is sent as a bearer token (RFC 6750 syntax, enforced by hono/bearer-auth): any other
  // character could never be presented, so /admin would refuse everyone.
  if (adminToken && !/^[A-Za-z0-9._~+/-]+=*$/.test(adminToken)) {
    problems.push("ADMIN_TOKEN must use only letters, digits and - . _ ~ + / (optionally ending in =)");
  }

  if (isWechatProduction) {
    // Real money: refuse the well-known values of the docs and of .dev.vars.example.
    if (payKey !== null && PUBLIC_EXAMPLE_VALUES.has(payKey)) problems.push("WECHAT_PAY_KEY is a public example key");
    if (PUBLIC_EXAMPLE_VALUES.has(sessionSecret)) problems.push("SESSION_SECRET is the example value");
    if (PUBLIC_EXAMPLE_VALUES.has(adminToken)) problems.push("ADMIN_TOKEN is the example value");
    if (PUBLIC_EXAMPLE_VALUES.has(env.MERCHANT_WEBHOOK_SECRET ?? "")) problems.push("MERCHANT_WEBHOOK_SECRET is the example value");
    if (PUBLIC_EXAMPLE_VALUES.has(env.WECHAT_PUSH_TOKEN ?? "")) problems.push("WECHAT_PUSH_TOKEN is the example value");
    if (PUBLIC_EXAMPLE_VALUES.has(env.WECHAT_PUSH_AES_KEY ?? "")) problems.push("WECHAT_PUSH_AES_KEY is the example value");
    if (v3) v3ExampleProblems(v3, problems);
  }
  if (!env.LOGIN_LIMITER) problems.push("LOGIN_LIMITER rate-limit binding is missing");
  if (!env.ORDER_LIMITER) problems.push("ORDER_LIMITER rate-limit binding is missing");

  const orderTtlMinutes = integerVar("ORDER_TTL_MINUTES", env.ORDER_TTL_MINUTES, 30, 5, 120, problems);
  const reconcileDelaySeconds = integerVar("RECONCILE_DELAY_SECONDS", env.RECONCILE_DELAY_SECONDS, 60, 0, 86_400, problems);

  const webhook = webhookConfig(env, isWechatProduction, problems);
  const pushToken = env.WECHAT_PUSH_TOKEN || null;
  if (pushToken !== null && !/^[A-Za-z0-9]{3,32}$/.test(pushToken)) problems.push("WECHAT_PUSH_TOKEN must be 3 to 32 letters or digits");
  const pushAesKey = env.WECHAT_PUSH_AES_KEY || null;
  if (pushAesKey !== null && !/^[A-Za-z0-9+/]{43}$/.test(pushAesKey)) problems.push("WECHAT_PUSH_AES_KEY must be the 43-character EncodingAESKey");
  if (pushAesKey !== null && pushToken === null) problems.push("WECHAT_PUSH_AES_KEY needs WECHAT_PUSH_TOKEN");

  const access = accessConfig(env, isWechatProduction, problems);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      appId, mchId, appSecret, payKey, previousPayKeys, signType, notifyUrl, refundNotifyUrl,
      apiBase, payBase, sessionSecret, adminToken, orderTtlMinutes, reconcileDelaySeconds, isWechatProduction, webhook,
      push: { token: pushToken, aesKey: pushAesKey }, access, payApi, v3,
    },
  };
}

/**
 * MERCHANT_WEBHOOK_URL (optional; https when the deployment talks to WeChat's production host),
 * MERCHANT_WEBHOOK_SECRET (required with the URL) and its _PREVIOUS during a rotation, both in the
 * Standard Webhooks form `whsec_<base64 of 24 to 64 random bytes>`.
 */
function webhookConfig(env: Env, production: boolean, problems: string[]): WebhookConfig {
  const retryBaseSeconds = integerVar("WEBHOOK_RETRY_BASE_SECONDS", env.WEBHOOK_RETRY_BASE_SECONDS, 30, 1, 3600, problems);
  const secrets: Uint8Array[] = [];
  for (const name of ["MERCHANT_WEBHOOK_SECRET", "MERCHANT_WEBHOOK_SECRET_PREVIOUS"] as const) {
    const value = env[name];
    if (!value) continue;
    const key = webhookSecret(value);
    if (key) secrets.push(key);
    else problems.push(`${name} must be whsec_ followed by the base64 of 24 to 64 random bytes`);
  }
  if (env.MERCHANT_WEBHOOK_SECRET_PREVIOUS && !env.MERCHANT_WEBHOOK_SECRET) problems.push("MERCHANT_WEBHOOK_SECRET_PREVIOUS needs MERCHANT_WEBHOOK_SECRET");
  const raw = env.MERCHANT_WEBHOOK_URL;
  if (!raw) return { url: null, secrets, retryBaseSeconds };
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    problems.push("MERCHANT_WEBHOOK_URL must be an absolute URL");
  }
  if (url && url.protocol !== "https:" && (production || url.protocol !== "http:")) problems.push("MERCHANT_WEBHOOK_URL must use https");
  if (!env.MERCHANT_WEBHOOK_SECRET) problems.push("MERCHANT_WEBHOOK_SECRET is required with MERCHANT_WEBHOOK_URL");
  return { url: url ? raw : null, secrets, retryBaseSeconds };
}

/**
 * ACCESS_TEAM_DOMAIN (`<team>.cloudflareaccess.com`, with or without `https://` and a trailing slash)
 * and ACCESS_AUD: both or neither. Against WeChat's production host the domain must be an https
 * `*.cloudflareaccess.com` origin (tests and local runs may point it at a local stand-in).
 */
function accessConfig(env: Env, production: boolean, problems: string[]): AccessConfig | null {
  const domain = env.ACCESS_TEAM_DOMAIN || "";
  const aud = env.ACCESS_AUD || "";
  if (domain === "" && aud === "") return null;
  if (aud === "") problems.push("ACCESS_TEAM_DOMAIN needs ACCESS_AUD");
  if (domain === "") problems.push("ACCESS_AUD needs ACCESS_TEAM_DOMAIN");
  if (domain === "" || aud === "") return null;
  let url: URL | null = null;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(domain) ? domain : `https://${domain}`);
  } catch {
    url = null;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    problems.push("ACCESS_TEAM_DOMAIN must be a team domain such as https://<team>.cloudflareaccess.com");
    return null;
  }
  if (production && (url.protocol !== "https:" || !url.hostname.endsWith(".cloudflareaccess.com"))) {
    problems.push("ACCESS_TEAM_DOMAIN must be https://<team>.cloudflareaccess.com");
  }
  if (!/^[\x21-\x7e]{1,256}$/.test(aud)) problems.push("ACCESS_AUD must be the Access application's Audience (AUD) tag");
  return { teamDomain: url.origin, aud };
}

/** The key bytes of a `whsec_…` secret, or null when it is not one. */
function webhookSecret(value: string): Uint8Array | null {
  if (!value.startsWith("whsec_")) return null;
  try {
    const bytes = Uint8Array.from(atob(value.slice(6)), (c) => c.charCodeAt(0));
    return bytes.length >= 24 && bytes.length <= 64 ? bytes : null;
  } catch {
    return null;
  }
}

function baseUrl(name: string, value: string, problems: string[]): string {
  try {
    const url = new URL(value);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("scheme");
    return value.replace(/\/+$/, "");
  } catch {
    problems.push(`${name} must be an absolute http(s) URL`);
    return "";
  }
}

function optionalNotifyUrl(name: string, value: string | undefined, requireHttps: boolean, problems: string[]): string | null {
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} must be an absolute URL`);
    return null;
  }
  // WeChat drops query strings from notify_url and requires HTTPS for public hosts.
  if (url.search !== "" || url.hash !== "") problems.push(`${name} must not have a query string or fragment`);
  if (url.protocol !== "https:" && (requireHttps || url.protocol !== "http:")) problems.push(`${name} must use https`);
  if (value.length > 256) problems.push(`${name} must be at most 256 characters`);
  return value;
}

function integerVar(name: string, value: string | undefined, fallback: number, min: number, max: number, problems: string[]): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return Number(value);
}
