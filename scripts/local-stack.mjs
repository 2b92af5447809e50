// The local stack shared by `npm start`, `npm run demo` (and its e2e test) and `npm run load`:
// the WeChat simulator (sim/, over HTTP, delivering notifications itself) plus the Worker under
// `wrangler dev` with local D1/KV, migrated, pointed at the simulator; on request also the merchant's
// webhook receiver (examples/merchant-webhook), with the Worker's merchant events pointed at it.
// The merchant console (static assets under /console/) is built first, so wrangler dev serves it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startReceiver } from "../examples/merchant-webhook/server.mjs";
import { buildConsole } from "./build.mjs";
import { LOCAL_DEFAULTS, startSimServer } from "../sim/server.ts";
import { TEST_PLATFORM_CERTIFICATE } from "../sim/v3/test-keys.ts";
// The WeChat Pay API v3 trust modes the simulator plays (sim/README.md, "Pay API v3").
import { V3_MODES } from "../sim/v3/trust.ts";
import { readVars, toEnvFile } from "./dev-vars.mjs";
import { atExit, shuttingDown, spawnGroup, stopGroup } from "./process-cleanup.mjs";

export { readVars } from "./dev-vars.mjs";

/** Listens on 127.0.0.1:`port` for a moment; resolves with the port that was bound. */
const listenOnce = (port) =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const bound = server.address().port;
      server.close(() => resolve(bound));
    });
  });

/** A TCP port that was free a moment ago on 127.0.0.1 (for throwaway stacks: demo, load). */
export const freePort = () => listenOnce(0);

/**
 * Whether something already listens on 127.0.0.1:`port` (another `npm start`, an orphaned
 * wrangler). Other errors (EACCES for a privileged port) are thrown.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
export const portInUse = (port) =>
  listenOnce(port).then(
    () => false,
    (error) => {
      if (error.code === "EADDRINUSE") return true;
      throw error;
    },
  );

/**
 * The vars of a throwaway stack (demo, load, tests): the simulator's appid and mch_id, MD5, and the
 * secrets of `.dev.vars.example`. A developer's `.dev.vars` is deliberately not used.
 * @returns {Record<string, string>}
 */
export const exampleVars = () => ({
  WECHAT_APPID: LOCAL_DEFAULTS.appId,
  WECHAT_MCH_ID: LOCAL_DEFAULTS.mchId,
  WECHAT_SIGN_TYPE: "MD5",
  ...readVars(".dev.vars.example"),
});


/**
 * {@link exampleVars} with new orders on WeChat Pay API v3 in one trust mode: `publicKey` (the
 * example's public key and id), `certificate` (no public key: the Worker downloads the simulator's
 * platform certificates) or `migrating` (the public key and the simulator's platform certificate
 * pinned, both trusted). A PEM travels on one line with `\n` escapes, as in .dev.vars.
 * @param {"publicKey" | "certificate" | "migrating"} mode
 * @returns {Record<string, string>}
 */
export function exampleV3Vars(mode = "publicKey") {
  if (!V3_MODES.includes(mode)) throw new Error(`the v3 mode must be one of ${V3_MODES.join(", ")}, got ${JSON.stringify(mode)}`);
  const vars = { ...exampleVars(), WECHAT_PAY_API: "v3" };
  if (mode === "certificate") {
    delete vars.WECHAT_PAY_PUBLIC_KEY_ID;
    delete vars.WECHAT_PAY_PUBLIC_KEY;
  }
  if (mode === "migrating") vars.WECHAT_PAY_PLATFORM_CERT = TEST_PLATFORM_CERTIFICATE.trim().replaceAll("\n", "\\n");
  return vars;
}

/**
 * The simulator's API v3 side for the Worker's `vars`: the same APIv3 key and merchant key (the
 * simulator keeps only its public half), and the trust mode those vars describe (no public key:
 * certificate; a public key and a pinned platform certificate: migrating; else public key). The
 * simulator signs with its own TEST-ONLY WeChat Pay keys, which are the ones .dev.vars.example trusts.
 * Undefined when the vars hold no v3 credentials (the simulator's defaults then apply).
 * @param {Record<string, string>} vars
 */
export function simV3Options(vars) {
  if (!vars.WECHAT_APIV3_KEY && !vars.WECHAT_MCH_SERIAL) return undefined;
  const mode = !vars.WECHAT_PAY_PUBLIC_KEY ? "certificate" : vars.WECHAT_PAY_PLATFORM_CERT ? "migrating" : "publicKey";
  return {
    mode,
    ...(vars.WECHAT_APIV3_KEY ? { apiV3Key: vars.WECHAT_APIV3_KEY } : {}),
    ...(vars.WECHAT_MCH_PRIVATE_KEY && vars.WECHAT_MCH_SERIAL
      ? { merchantPublicKey: vars.WECHAT_MCH_PRIVATE_KEY.replaceAll("\\n", "\n"), merchantSerialNo: vars.WECHAT_MCH_SERIAL }
      : {}),
  };
}

// wrangler's own CLI under this Node (≥ 22 under `npm run`), without npx in between.
const wranglerBin = (() => {
  const require = createRequire(import.meta.url);
  const pkg = require("wrangler/package.json");
  return join(dirname(require.resolve("wrangler/package.json")), pkg.bin.wrangler);
})();
const wranglerEnv = () => ({ ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" });
const wrangler = (args, env = {}) => spawnSync(process.execPath, [wranglerBin, ...args], { encoding: "utf8", env: { ...wranglerEnv(), ...env } });

/** Applies migrations/ to the local D1 in `persistTo`. */
export function migrateLocal(persistTo) {
  const r = wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]);
  if (r.status !== 0) throw new Error(`d1 migrations failed:\n${r.stdout}\n${r.stderr}`);
}

/** Runs a SQL file against the local D1 in `persistTo`. */
export function executeLocal(persistTo, file) {
  const r = wrangler(["d1", "execute", "DB", "--local", "--persist-to", persistTo, `--file=${file}`]);
  if (r.status !== 0) throw new Error(`d1 execute failed:\n${r.stdout}\n${r.stderr}`);
}

/** Runs one SQL statement against the local D1 in `persistTo`; returns its result rows. */
export function queryLocal(persistTo, sql) {
  // --json prints through wrangler's logger: a quieter WRANGLER_LOG (vitest.config.ts sets "error") would swallow it.
  const r = wrangler(["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--json", "--command", sql], { WRANGLER_LOG: "log" });
  if (r.status !== 0) throw new Error(`d1 query failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout)[0].results;
}

/**
 * Waits until the Worker answers /health with 200 while `child` (our wrangler) is alive: an answer
 * while it is dead came from someone else on the port. Reports progress every 5 s.
 */
async function waitForHealth(url, child, timeoutMs, progress) {
  const started = Date.now();
  let reported = started;
  while (Date.now() - started < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before the Worker answered`);
    let res;
    try {
      res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
    } catch {} // not listening yet
    if (res && child.exitCode === null && child.signalCode === null) {
      if (res.status === 200) return;
      if (res.status === 503) {
        const { problems = [] } = await res.json().catch(() => ({}));
        throw Object.assign(new Error(`the Worker's configuration is invalid: ${problems.join("; ")}`), { problems });
      }
    }
    if (Date.now() - reported >= 5000) {
      reported = Date.now();
      progress(`  …still waiting for the Worker (${Math.round((reported - started) / 1000)} s)`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the Worker did not answer ${url}/health within ${timeoutMs / 1000} s`);
}

/** A private directory with the vars as an env file for `wrangler dev --env-file` (never on argv). */
function writeEnvFile(vars) {
  const dir = mkdtempSync(join(tmpdir(), "wxpay-vars-"));
  const file = join(dir, "vars.env");
  writeFileSync(file, toEnvFile(vars), { mode: 0o600 });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  return { file, remove, cancelAtExit: atExit(remove) };
}

/**
 * Starts the simulator and the Worker. The Worker gets `vars` (they win over the wrangler config's
 * vars) through a private env file, so no secret appears on a command line; the simulator is
 * configured with the same appid, mch_id, key and AppSecret. With `devVars: true` (npm start)
 * wrangler reads ./.dev.vars itself instead, and only WECHAT_APPID and WECHAT_MCH_ID of `vars` are
 * passed (as --var): `vars` must hold .dev.vars as {@link readVars} reads it, for the simulator.
 * With `receiver` (default off), the merchant receiver listens on `receiverPort` too, verifying with
 * `vars.MERCHANT_WEBHOOK_SECRET` (and `_PREVIOUS`), and the Worker gets MERCHANT_WEBHOOK_URL (a --var,
 * not a secret) pointing at it; `receiver` may be `true` or options for `startReceiver` (`store`,
 * `log`, …; by default memory only, printing when `echo`).
 * Ctrl-C at any point stops everything (see process-cleanup.mjs). `progress` gets a line before each
 * slow step (default: printed when `echo`). Resolves with `{ workerUrl, simUrl, sim, receiverUrl,
 * receiver, stop(), output(), workerExited }` (`receiverUrl` and `receiver` null without the
 * receiver); `workerExited` settles only if wrangler dev dies on its own.
 */
export async function startStack({
  workerPort = 8787,
  simPort = 8788,
  persistTo = ".wrangler/state",
  vars,
  simOptions = {},
  echo = false,
  devVars = false,
  /** Where the servers listen: 127.0.0.1, or 0.0.0.0 so a phone on the LAN can reach them. */
  host = "127.0.0.1",
  /** @type {boolean | Partial<import("../examples/merchant-webhook/receiver.mjs").ReceiverOptions>} */
  receiver = false,
  receiverPort = 8789,
  progress = echo ? (line) => console.log(line) : () => {},
}) {
  if (await portInUse(workerPort)) throw new Error(`port ${workerPort} on 127.0.0.1 is already in use`);
  if (receiver && !vars.MERCHANT_WEBHOOK_SECRET) throw new Error("the merchant receiver needs MERCHANT_WEBHOOK_SECRET in vars (see .dev.vars.example)");
  progress("Building the merchant console (dist/assets)…");
  await buildConsole();
  progress(`Applying the D1 migrations (local, ${persistTo})…`);
  migrateLocal(persistTo);
  const v3 = simV3Options(vars);
  const sim = await startSimServer({
    port: simPort,
    host,
    appId: vars.WECHAT_APPID,
    mchId: vars.WECHAT_MCH_ID,
    // Under WeChat Pay API v3 the v2 key may be unset: the simulator still speaks v2 with its default.
    apiKey: vars.WECHAT_PAY_KEY || LOCAL_DEFAULTS.apiKey,
    appSecret: vars.WECHAT_APP_SECRET,
    // API v3 with the Worker's key and merchant key, in the trust mode its vars describe.
    ...(v3 ? { v3 } : {}),
    // Message pushes (shipping settlement) signed and encrypted like the Worker expects, when configured.
    ...(vars.WECHAT_PUSH_TOKEN ? { pushToken: vars.WECHAT_PUSH_TOKEN } : {}),
    ...(vars.WECHAT_PUSH_AES_KEY ? { pushAesKey: vars.WECHAT_PUSH_AES_KEY } : {}),
    closeMinAgeSeconds: 0,
    ...(echo ? {} : { log: () => {} }),
    ...simOptions,
  });
  // The Worker reaches the simulator and the receiver on this machine, whatever address they listen on.
  const simUrl = `http://127.0.0.1:${new URL(sim.url).port}`;
  let merchant;
  let envFile;
  const stopServers = async () => {
    envFile?.remove();
    envFile?.cancelAtExit();
    await Promise.all([sim.close(), merchant?.close()]);
  };
  let child;
  try {
    merchant = receiver
      ? await startReceiver({
          port: receiverPort,
          host,
          secret: vars.MERCHANT_WEBHOOK_SECRET,
          previousSecret: vars.MERCHANT_WEBHOOK_SECRET_PREVIOUS || null,
          ...(echo ? {} : { log: () => {} }),
          ...(receiver === true ? {} : receiver),
        })
      : undefined;
    const urls = { WECHAT_API_BASE: simUrl, WECHAT_PAY_BASE: simUrl, ...(merchant ? { MERCHANT_WEBHOOK_URL: merchant.url } : {}) };
    const cliVars = devVars ? { WECHAT_APPID: vars.WECHAT_APPID, WECHAT_MCH_ID: vars.WECHAT_MCH_ID, ...urls } : urls;
    envFile = devVars ? undefined : writeEnvFile(vars);
    // Every wrangler dev wants inspector port 9229: stacks started at the same time (tests) would collide.
    const inspectorPort = await freePort();
    const args = [
      wranglerBin, "dev", "--ip", host, "--port", String(workerPort), "--inspector-port", String(inspectorPort), "--persist-to", persistTo,
      "--show-interactive-dev-session=false", "--log-level", echo ? "log" : "warn",
      ...(envFile ? ["--env-file", envFile.file] : []),
      ...Object.entries(cliVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ];
    progress(`Starting the Worker (wrangler dev) on http://127.0.0.1:${workerPort}…`);
    child = spawnGroup(process.execPath, args, { stdio: ["ignore", echo ? "inherit" : "pipe", echo ? "inherit" : "pipe"], env: wranglerEnv() });
  } catch (error) {
    await stopServers();
    throw error;
  }
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  child.once("error", (error) => (output += `\n${error.message}`)); // not spawned: waitForHealth times out with this in the output
  let stopping = false;
  /** Resolves only if wrangler dev ends without stop() or Ctrl-C: the Worker is gone. */
  const workerExited = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      if (!stopping && !shuttingDown()) resolve({ code, signal });
    }),
  );
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  const stop = async () => {
    stopping = true;
    await stopGroup(child.pid);
    await stopServers();
  };
  try {
    await waitForHealth(workerUrl, child, 90_000, progress);
  } catch (error) {
    await stop();
    const tail = output.slice(-4000);
    throw Object.assign(new Error(tail ? `${error.message}\n--- wrangler output ---\n${tail}` : error.message), { problems: error.problems });
  }
  return {
    workerUrl,
    simUrl,
    sim: sim.sim,
    receiverUrl: merchant?.url ?? null,
    receiver: merchant?.receiver ?? null,
    stop,
    output: () => output,
    workerExited,
  };
}
