// The Cloudflare Access key cache (src/auth/jwks.ts) on its own, with a counting fetcher and a clock
// the test moves: one fetch for many requests (also concurrent ones), an unknown kid refetches at most
// once per 30 s, a failure keeps the keys we had, old keys are refreshed, odd keys are skipped.
import { describe, expect, it } from "vitest";
import { JwksCache, KEYS_MAX_AGE_MS, REFETCH_INTERVAL_MS } from "../../src/auth/jwks";

async function publicJwk(kid: string) {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  return { ...((await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey), kid, alg: "RS256", use: "sig" };
}

const [keyA, keyB] = await Promise.all([publicJwk("a"), publicJwk("b")]);

/** A cache over a JWKS the test controls, with its fetch count and clock. */
function harness(initial: unknown[] = [keyA]) {
  const state = { published: initial, fetches: 0, status: 200, now: 1_000_000 };
  const cache = new JwksCache(
    "https://team.example/cdn-cgi/access/certs",
    async (url) => {
      state.fetches++;
      expect(url).toBe("https://team.example/cdn-cgi/access/certs");
      return new Response(JSON.stringify({ keys: state.published }), { status: state.status });
    },
    () => state.now,
  );
  return { cache, state };
}

describe("JwksCache", () => {
  it("fetches the JWKS once for many requests, sequential and concurrent", async () => {
    const { cache, state } = harness();
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => cache.key("a")));
    expect(concurrent.every((k) => k instanceof CryptoKey)).toBe(true);
    for (let i = 0; i < 50; i++) {
      state.now += 1000;
      expect(await cache.key("a")).toBeInstanceOf(CryptoKey);
    }
    expect(state.fetches).toBe(1);
  });

  it("an unknown kid refetches at most once per 30 s, and a rotation is found by that refetch", async () => {
    const { cache, state } = harness();
    expect(await cache.key("a")).toBeInstanceOf(CryptoKey);
    expect(await cache.key("b")).toBe("unknown");
    expect(state.fetches).toBe(1); // the first fetch was just now: no refetch yet
    state.now += REFETCH_INTERVAL_MS;
    expect(await Promise.all([cache.key("b"), cache.key("b"), cache.key("zzz")])).toEqual(["unknown", "unknown", "unknown"]);
    expect(state.fetches).toBe(2);
    state.now += REFETCH_INTERVAL_MS - 1;
    expect(await cache.key("zzz")).toBe("unknown");
    expect(state.fetches).toBe(2);
    // Access rotates: the new key is published, and the next refetch (30 s on) finds it.
    state.published = [keyA, keyB];
    state.now += 1;
    expect(await cache.key("b")).toBeInstanceOf(CryptoKey);
    expect(state.fetches).toBe(3);
    expect(await cache.key("a")).toBeInstanceOf(CryptoKey);
    expect(state.fetches).toBe(3);
  });

  it("never fetched: unavailable while the JWKS is down, retried 30 s later; a later failure keeps the old keys", async () => {
    const { cache, state } = harness();
    state.status = 503;
    expect(await cache.key("a")).toBe("unavailable");
    expect(await cache.key("a")).toBe("unavailable");
    expect(state.fetches).toBe(1);
    state.status = 200;
    state.now += REFETCH_INTERVAL_MS;
    expect(await cache.key("a")).toBeInstanceOf(CryptoKey);
    expect(state.fetches).toBe(2);
    // An hour on the keys are refreshed; the refresh fails, the keys we had still verify.
    state.status = 500;
    state.now += KEYS_MAX_AGE_MS;
    expect(await cache.key("a")).toBeInstanceOf(CryptoKey);
    expect(state.fetches).toBe(3);
    expect(await cache.key("b")).toBe("unknown");
    expect(state.fetches).toBe(3);
  });

  it("keys are refreshed once they are an hour old, and a key Access withdrew is gone", async () => {
    const { cache, state } = harness([keyA, keyB]);
    expect(await cache.key("b")).toBeInstanceOf(CryptoKey);
    state.published = [keyA];
    state.now += KEYS_MAX_AGE_MS - 1;
    expect(await cache.key("b")).toBeInstanceOf(CryptoKey);
    expect(state.fetches).toBe(1);
    state.now += 1;
    expect(await cache.key("b")).toBe("unknown");
    expect(state.fetches).toBe(2);
  });

  it("skips keys that are not RS256 signing keys and answers unavailable for a JWKS without one", async () => {
    const { cache, state } = harness([
      { ...keyA, kid: "enc", use: "enc" },
      { ...keyA, kid: "ps", alg: "PS256" },
      { kty: "EC", kid: "ec", crv: "P-256", x: "x", y: "y" },
      { ...keyA, kid: "broken", n: "!!" },
      "not a key",
      null,
    ]);
    expect(await cache.key("enc")).toBe("unavailable");
    state.published = [keyA, { ...keyB, kid: "enc", use: "enc" }];
    state.now += REFETCH_INTERVAL_MS;
    expect(await cache.key("enc")).toBe("unknown");
    expect(await cache.key("a")).toBeInstanceOf(CryptoKey);
    // Not JSON at all: a failure like any other.
    const broken = new JwksCache("https://team.example/certs", async () => new Response("<html>"), () => 0);
    expect(await broken.key("a")).toBe("unavailable");
  });

  it("a fetch that throws (network error) is a failure, not a crash", async () => {
    const cache = new JwksCache("https://team.example/certs", async () => { throw new TypeError("network down"); }, () => 0);
    expect(await cache.key("a")).toBe("unavailable");
  });
});
