// Bindings the workerd test project sees (vitest.config.ts pins every var and secret).
declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      NOTIFY_KV: KVNamespace;
      /** The simulator's control surface (same instance as the Worker's outbound fetches). */
      SIM: Fetcher;
      LOGIN_LIMITER: RateLimit;
      ORDER_LIMITER: RateLimit;
      /** Test-only: 3 requests per 60 s, swapped in for the real limiters by the rate-limit tests. */
      TIGHT_LIMITER: RateLimit;
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
      WECHAT_APPID: string;
      WECHAT_MCH_ID: string;
      WECHAT_PAY_KEY: string;
      WECHAT_APP_SECRET: string;
      WECHAT_SIGN_TYPE: string;
      WECHAT_API_BASE: string;
      WECHAT_PAY_BASE: string;
      SESSION_SECRET: string;
      ADMIN_TOKEN: string;
    }
  }
}
export {};
