// Test-only bindings that vitest.config.ts adds to the workerd project. Everything else in `env`
// (from "cloudflare:workers") is the Worker's own Env, generated from wrangler.jsonc by
// `npm run types` (worker-configuration.d.ts); vitest.config.ts pins every var and secret in it.
declare global {
  namespace Cloudflare {
    interface Env {
      /** The simulator's control surface (same instance as the Worker's outbound fetches). */
      SIM: Fetcher;
      /** The merchant receiver's control surface (test/merchant-receiver.ts). */
      RECEIVER: Fetcher;
      /** The Cloudflare Access stand-in's control surface (test/access-team.ts): test keys, JWKS fetch counts, rotation. */
      ACCESS_TEAM: Fetcher;
      /** 3 requests per 60 s, swapped in for the real limiters by the rate-limit tests. */
      TIGHT_LIMITER: RateLimit;
      /** migrations/, read once by vitest.config.ts and applied by test/setup.ts. */
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    }
  }
}
export {};
