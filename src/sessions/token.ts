/**
 * Session tokens: HS256 JWTs whose subject is our user id. `alg` is pinned, and `exp` must be present
 * (hono/jwt's verify() alone accepts a token without exp, which would never expire).
 */
import { sign, verify } from "hono/jwt";

export const SESSION_TTL_SECONDS = 2 * 3600;
const AUDIENCE = "miniprogram";

export async function issueSessionToken(secret: string, userId: string, now: Date): Promise<{ token: string; expiresIn: number }> {
  const iat = Math.floor(now.getTime() / 1000);
  const token = await sign({ sub: userId, aud: AUDIENCE, iat, exp: iat + SESSION_TTL_SECONDS }, secret, "HS256");
  return { token, expiresIn: SESSION_TTL_SECONDS };
}

/** The user id of a valid token, or null for anything else (bad signature, other alg, expired, no exp, other audience). */
export async function verifySessionToken(secret: string, token: string): Promise<string | null> {
  try {
    const payload = await verify(token, secret, { alg: "HS256", aud: AUDIENCE, exp: true, nbf: true, iat: true });
    if (typeof payload.exp !== "number" || typeof payload.sub !== "string" || payload.sub === "") return null;
    return payload.sub;
  } catch {
    return null;
  }
}
