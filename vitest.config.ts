import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildConsole } from "./scripts/build.mjs";
import { createSimulator } from "./sim/core.ts";
import { ACCESS_TEST_SUFFIX, createAccessTeam } from "./test/access-team.ts";
import { createTestReceiver, MERCHANT_HOST, TEST_WEBHOOK_SECRET } from "./test/merchant-receiver.ts";

/** Every var and secret the workerd tests rely on, pinned (a local .dev.vars must not leak in). */
const TEST_VARS = {
  WECHAT_APPID: "wxd930ea5d5a258f4f",
  WECHAT_MCH_ID: "10000100",
  WECHAT_APP_SECRET: "test-app-secret-for-the-simulator",
  WECHAT_PAY_KEY: "192006250b4c09247ec02edce69f6a2d",
  WECHAT_PAY_KEY_PREVIOUS: "",
  WECHAT_SIGN_TYPE: "MD5",
  WECHAT_NOTIFY_URL: "",
  WECHAT_REFUND_NOTIFY_URL: "",
  WECHAT_API_BASE: "http://wechat.sim",
  WECHAT_PAY_BASE: "http://wechat.sim",
  SESSION_SECRET: "test-session-secret-0123456789abcdef-0123456789",
  ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
  ORDER_TTL_MINUTES: "30",
  RECONCILE_DELAY_SECONDS: "60",
  MERCHANT_WEBHOOK_URL: `http://${MERCHANT_HOST}/webhooks`,
  MERCHANT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
  MERCHANT_WEBHOOK_SECRET_PREVIOUS: "",
  WEBHOOK_RETRY_BASE_SECONDS: "30",
  WECHAT_PUSH_TOKEN: "TestPushToken2026",
  WECHAT_PUSH_AES_KEY: "dGVzdC1wdXNoLWVuY29kaW5nLWFlcy1rZXktMDEyMzQ",
  // Cloudflare Access in front of /admin, with the local stand-in team (test/access-team.ts); written
  // without https:// and with a trailing slash, as an operator might: the Worker normalises it. The
  // ADMIN_TOKEN bearer keeps working alongside.
  ACCESS_TEAM_DOMAIN: `team${ACCESS_TEST_SUFFIX}/`,
  ACCESS_AUD: "5e1f0c8a3b7d4e2f9a6c1b0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f",
  // WeChat Pay API v2 here; the v3 tests run the Worker with v3 settings of their own
  // (test/integration/v3-harness.ts), so the v3 variables are pinned unset.
  WECHAT_PAY_API: "v2",
  WECHAT_APIV3_KEY: "",
  WECHAT_MCH_PRIVATE_KEY: "",
  WECHAT_MCH_SERIAL: "",
  WECHAT_PAY_PUBLIC_KEY_ID: "",
  WECHAT_PAY_PUBLIC_KEY: "",
  WECHAT_PAY_PLATFORM_CERT: "",
};

// Each time the plugin reads wrangler.jsonc (once per test file), wrangler looks for the required
// secrets in .dev.vars or process.env, says where, and warns that they are missing: they are pinned in
// miniflare.bindings below instead, so only wrangler's errors are shown here (WRANGLER_LOG=debug to
// see everything). wrangler processes the tests start themselves pass their own --log-level.
process.env.WRANGLER_LOG ??= "error";

/**
 * One simulator for the whole workerd project: it is the Worker's outbound network
 * (outboundService) and the tests' control surface (the SIM service binding). It runs here in Node;
 * notifications wait in its outbox until test/integration/harness.ts delivers them to the Worker.
 */
const simulator = createSimulator({
  appId: TEST_VARS.WECHAT_APPID,
  mchId: TEST_VARS.WECHAT_MCH_ID,
  apiKey: TEST_VARS.WECHAT_PAY_KEY,
  appSecret: TEST_VARS.WECHAT_APP_SECRET,
  delivery: "outbox",
  timeScale: 0,
  closeMinAgeSeconds: 0,
  // Message pushes (shipping settlement) in safe mode with the Worker's Token and EncodingAESKey.
  pushToken: TEST_VARS.WECHAT_PUSH_TOKEN,
  pushAesKey: TEST_VARS.WECHAT_PUSH_AES_KEY,
});
const toSimulator = (request: Request) => simulator.fetch(request);

/** The merchant's endpoint (examples/merchant-webhook, verifying with standardwebhooks) and its test control. */
const merchant = createTestReceiver();
/** Cloudflare Access's certs endpoints for the test teams, and their control (test keys, fetch counts). */
const accessTeam = createAccessTeam();
/**
 * The Worker's outbound network: the merchant's host goes to the receiver, the Access test teams'
 * hosts to their certs endpoint, everything else to the simulator.
 */
const outbound = (request: Request) => {
  const host = new URL(request.url).host;
  if (host === MERCHANT_HOST) return merchant.fetch(request);
  if (host.endsWith(ACCESS_TEST_SUFFIX)) return accessTeam.fetch(request);
  return toSimulator(request);
};

/**
 * Two projects: "workers" runs inside workerd with real local D1 and KV (unit, integration);
 * "node" runs the simulator's own tests and the end-to-end test (real processes over HTTP).
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  // wrangler.jsonc's assets directory must exist before the workers pool reads it (a quick
  // `npx vitest run <file>` included); unchanged files are left alone.
  await buildConsole();
  return {
    test: {
      // Structured logs of passing tests are noise; a failing test still shows its logs.
      silent: "passed-only" as const,
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.jsonc" },
              miniflare: {
                // SELF.scheduled() needs this test-only flag.
                compatibilityFlags: ["service_binding_extra_handlers"],
                bindings: { ...TEST_VARS, TEST_MIGRATIONS: migrations },
                serviceBindings: {
                  SIM: toSimulator,
                  RECEIVER: (request: Request) => merchant.control(request),
                  ACCESS_TEAM: (request: Request) => accessTeam.control(request),
                },
                // The producer writes to a Queue without a consumer: each test runs the consumer itself
                // (createMessageBatch), so no delivery happens behind its back.
                queueProducers: { EVENTS_QUEUE: { queueName: "merchant-events-tests" } },
                // The suite logs in and orders far more often than a person: generous limits here, and
                // a tight test-only limiter that the rate-limit tests swap in through the env.
                ratelimits: {
                  LOGIN_LIMITER: { namespace_id: "1001", simple: { limit: 100_000, period: 60 } },
                  ORDER_LIMITER: { namespace_id: "1002", simple: { limit: 100_000, period: 60 } },
                  TIGHT_LIMITER: { namespace_id: "1999", simple: { limit: 3, period: 60 } },
                },
                outboundService: outbound,
              },
            }),
          ],
          test: {
            name: "workers",
            // One simulator serves every file (its outbox, fault queue and bills are shared), so
            // files run one after another: no test can take another file's notification or fault.
            fileParallelism: false,
            include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
            setupFiles: ["./test/setup.ts"],
          },
        },
        {
          test: {
            name: "node",
            environment: "node",
            include: ["test/sim/**/*.test.ts", "test/e2e/**/*.test.ts", "test/console/**/*.test.ts"],
          },
        },
      ],
    },
  };
});
