declare module "cloudflare:test" {
  interface ProvidedEnv {
    DB: D1Database;
    NOTIFY_KV: KVNamespace;
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}
