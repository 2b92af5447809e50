import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Two projects: "workers" runs inside workerd with real local D1 and KV (unit, integration);
 * "node" runs the simulator's own tests and the end-to-end test (real processes over HTTP).
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                // SELF.scheduled() needs this test-only flag.
                compatibilityFlags: ["service_binding_extra_handlers"],
                bindings: { TEST_MIGRATIONS: migrations },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
            setupFiles: ["./test/setup.ts"],
          },
        },
        {
          test: {
            name: "node",
            environment: "node",
            include: ["test/sim/**/*.test.ts", "test/e2e/**/*.test.ts"],
          },
        },
      ],
    },
  };
});
