/**
 * The signing keys of a Cloudflare Access team, from its JWKS (`<team domain>/cdn-cgi/access/certs`),
 * kept per isolate: fetched on first use, again once they are an hour old, and when a token names a
 * key id we do not have. That usually means Access rotated its key (every 6 weeks by default; the new
 * key signs at once, the previous one stays listed for 7 days:
 * https://developers.cloudflare.com/cloudflare-one/access-controls/applications/http-apps/authorization-cookie/validating-json/).
 * Fetches are at most one per REFETCH_INTERVAL_MS, however many tokens with made-up key ids arrive,
 * and concurrent requests share one fetch. A failed fetch keeps the keys we had.
 */
import { logEvent } from "../log";

/** At most one JWKS fetch per this interval (an unknown kid, a failure, a flood of forged tokens). */
export const REFETCH_INTERVAL_MS = 30_000;
/** Keys older than this are fetched again on the next use (and still used if that fetch fails). */
export const KEYS_MAX_AGE_MS = 3600_000;
const FETCH_TIMEOUT_MS = 5_000;
const RS256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** A verification key; "unknown": the keys (fetched) do not have it; "unavailable": no keys could be fetched. */
export type KeyLookup = CryptoKey | "unknown" | "unavailable";

/** One team's JWKS, cached. `fetcher` and `now` are injectable for tests. */
export class JwksCache {
  #keys: Map<string, CryptoKey> | null = null;
  #fetchedAt = 0;
  #lastAttempt = -Infinity;
  #inflight: Promise<void> | null = null;

  constructor(
    readonly url: string,
    private readonly fetcher: (url: string, init: RequestInit) => Promise<Response> = (url, init) => fetch(url, init),
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The RS256 key with this kid, refreshing the set first when it is missing or old (rate-limited). */
  async key(kid: string): Promise<KeyLookup> {
    const known = this.#keys?.get(kid);
    if (known && this.now() - this.#fetchedAt < KEYS_MAX_AGE_MS) return known;
    if (this.#inflight) await this.#inflight;
    else if (this.now() - this.#lastAttempt >= REFETCH_INTERVAL_MS) await (this.#inflight = this.#refresh().finally(() => (this.#inflight = null)));
    return this.#keys?.get(kid) ?? (this.#keys ? "unknown" : "unavailable");
  }

  async #refresh(): Promise<void> {
    this.#lastAttempt = this.now();
    try {
      const res = await this.fetcher(this.url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const keys = await importKeys(await res.json());
      if (keys.size === 0) throw new Error("no RS256 signing key");
      this.#keys = keys;
      this.#fetchedAt = this.now();
    } catch (error) {
      // Never a token here, only where and why.
      logEvent("access_jwks_failed", { url: this.url, error: error instanceof Error ? `${error.name}: ${error.message}` : "unknown" });
    }
  }
}

/** The RSA signing keys of a JWKS document by kid (keys of any other type or use are skipped). */
async function importKeys(body: unknown): Promise<Map<string, CryptoKey>> {
  const keys = new Map<string, CryptoKey>();
  const list = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) return keys;
  for (const jwk of list as Record<string, unknown>[]) {
    const { kty, kid, n, e, alg, use } = jwk ?? {};
    if (kty !== "RSA" || typeof kid !== "string" || typeof n !== "string" || typeof e !== "string") continue;
    if ((alg !== undefined && alg !== "RS256") || (use !== undefined && use !== "sig")) continue;
    try {
      keys.set(kid, await crypto.subtle.importKey("jwk", { kty, n, e, alg: "RS256", ext: true }, RS256, false, ["verify"]));
    } catch {
      // A malformed key is not one we can verify with; the others still count.
    }
  }
  return keys;
}
