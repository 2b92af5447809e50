/**
 * Cloudflare Access tokens for the integration tests, signed here with Web Crypto (not with the hono
 * code the Worker verifies with) by the keys of the local stand-in team (test/access-team.ts, reached
 * through the ACCESS_TEAM binding), and calls to /admin with them.
 */
import { env } from "cloudflare:workers";
import { api } from "./harness";

/** The pinned team, as the Worker normalises ACCESS_TEAM_DOMAIN (`team.cloudflareaccess.test/`). */
export const TEAM = `https://${(env.ACCESS_TEAM_DOMAIN ?? "").replace(/\/+$/, "")}`;
export const AUD = env.ACCESS_AUD ?? "";
export const EMAIL = "ops@shop.example";

/** The stand-in team's control surface. */
export async function accessControl<T = any>(method: string, path: string): Promise<T> {
  const res = await env.ACCESS_TEAM.fetch(`http://access.control${path}`, { method });
  return (await res.json()) as T;
}

type PrivateJwk = JsonWebKey & { kid: string };
/** primary: published; rotated: published after POST /rotate; stranger: never published. */
export const keys = await accessControl<{ primary: PrivateJwk; rotated: PrivateJwk; stranger: PrivateJwk }>("GET", "/keys");

/** How many times the Worker fetched the certs of `host` (default: the pinned team). */
export const jwksFetches = async (host = new URL(TEAM).host) => (await accessControl<{ count: number }>("GET", `/fetches?host=${host}`)).count;

export const b64url = (data: Uint8Array | string) =>
  btoa(String.fromCharCode(...(typeof data === "string" ? new TextEncoder().encode(data) : data)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/**
 * An Access token as Access issues one for a user (claims as in Cloudflare's docs), valid for 10
 * minutes; `claims` and `header` override (a value of undefined removes the claim).
 */
export async function mintAccessToken(
  claims: Record<string, unknown> = {},
  options: { key?: PrivateJwk; header?: Record<string, unknown>; team?: string } = {},
): Promise<string> {
  const key = options.key ?? keys.primary;
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", kid: key.kid, typ: "JWT", ...options.header };
  const payload = Object.fromEntries(
    Object.entries({
      aud: [AUD], email: EMAIL, exp: now + 600, iat: now, nbf: now, iss: options.team ?? TEAM, type: "app",
      identity_nonce: "6ei69kawdKzMIAPF", sub: "7335d417-61da-459d-899c-0a01c76a2f94", country: "CN", ...claims,
    }).filter(([, v]) => v !== undefined),
  );
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signingKey = await crypto.subtle.importKey("jwk", { ...key, alg: "RS256" }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", signingKey, new TextEncoder().encode(input)));
  return `${input}.${b64url(signature)}`;
}

/** A JSON call to /admin with an Access token in Cf-Access-Jwt-Assertion (and nothing else). */
export const viaAccess = (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) =>
  api(method, `/admin${path}`, { body, headers: { "cf-access-jwt-assertion": token, ...headers } });
