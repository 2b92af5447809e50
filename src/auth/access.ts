/**
 * Cloudflare Access tokens (the `Cf-Access-Jwt-Assertion` header Access adds to every request it lets
 * through), verified as Cloudflare documents it
 * (https://developers.cloudflare.com/cloudflare-one/access-controls/applications/http-apps/authorization-cookie/validating-json/):
 * RS256 only, signed by a key of the team's JWKS, `iss` the team domain, `aud` naming our Access
 * application, `exp` required and in the future, `nbf` (when present) in the past.
 *
 * The claims and the signature are checked by hono's own JWT code (`hono/utils/jwt/jwt` `verify`:
 * alg must equal the one we pass, exp/nbf/iss/aud, Web Crypto signature), already in the bundle's
 * dependency: about 1 KiB gzipped, where `jose` (createRemoteJWKSet + jwtVerify) measured 6.9 KiB
 * gzipped on its own. hono's `verifyWithJwks` and `hono/jwk` are not used: they fetch the JWKS on every
 * request (no cache) and the middleware only reads `Bearer` credentials; the per-isolate cache with a
 * rate-limited refetch is ours (jwks.ts).
 */
import { decodeHeader, verify } from "hono/utils/jwt/jwt";
import type { AccessConfig } from "../config";
import { JwksCache } from "./jwks";

/** Who the token names, or why it is refused ("unavailable": the team's keys could not be fetched). */
export type AccessCheck = { ok: true; actor: string } | { ok: false; unavailable: boolean; reason: string };

/** Far above a real Access token (about 1 KiB): anything longer is refused before it is decoded. */
const MAX_TOKEN_CHARS = 8192;

/** One key cache per team domain, for the life of the isolate. */
const teams = new Map<string, JwksCache>();

/** The key cache of a team: its JWKS is `<teamDomain>/cdn-cgi/access/certs`. */
export function teamKeys(teamDomain: string): JwksCache {
  let keys = teams.get(teamDomain);
  if (!keys) teams.set(teamDomain, (keys = new JwksCache(`${teamDomain}/cdn-cgi/access/certs`)));
  return keys;
}

/**
 * Verifies an Access token. The actor is the user's `email`, or for an Access service token (no
 * email) its `common_name` (the client id). Never throws; the reason names a check, never the token.
 */
export async function verifyAccessToken(token: string, access: AccessConfig, keys: JwksCache = teamKeys(access.teamDomain)): Promise<AccessCheck> {
  const refuse = (reason: string): AccessCheck => ({ ok: false, unavailable: false, reason });
  if (token.length > MAX_TOKEN_CHARS) return refuse("too long");
  let kid: string | undefined;
  try {
    const header = decodeHeader(token);
    // Only RS256, decided here and again by verify(): never `none`, never an HMAC keyed with our public key.
    if (header.alg !== "RS256") return refuse("alg");
    kid = header.kid;
  } catch {
    return refuse("malformed");
  }
  if (typeof kid !== "string") return refuse("no kid");
  const key = await keys.key(kid);
  if (key === "unavailable") return { ok: false, unavailable: true, reason: "keys unavailable" };
  if (key === "unknown") return refuse("unknown kid");
  let payload: Record<string, unknown>;
  try {
    // iat is not checked: Access sets nbf and exp, and a future iat would only add clock-skew refusals.
    payload = await verify(token, key, { alg: "RS256", iss: access.teamDomain, aud: access.aud, iat: false });
  } catch (error) {
    // hono's messages quote the token: only the error's name is kept.
    return refuse(error instanceof Error ? error.name : "invalid");
  }
  if (typeof payload.exp !== "number") return refuse("no exp");
  const actor = [payload.email, payload.common_name].find((v): v is string => typeof v === "string" && v !== "");
  return actor ? { ok: true, actor } : refuse("no identity");
}
