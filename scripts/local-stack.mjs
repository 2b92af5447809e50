// The local stack shared by `npm start`, `npm run demo` (and its e2e test) and `npm run load`:
// the WeChat simulator (sim/, over HTTP, delivering notifications itself) plus the Worker under
// `wrangler dev` with local D1/KV, migrated, pointed at the simulator.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LOCAL_DEFAULTS, startSimServer } from "../sim/server.ts";
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

// wrangler's own CLI under this Node (≥ 22 under `npm run`), without npx in between.
const wranglerBin = (() => {
  const require = createRequire(import.meta.url);
  const pkg = require("wrangler/package.json");
  return join(dirname(require.resolve("wrangler/package.json")), pkg.bin.wrangler);
})();
const wranglerEnv = () => ({ ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" });
const wrangler = (args) => spawnSync(process.execPath, [wranglerBin, ...args], { encoding: "utf8", env: wranglerEnv() });

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
  const r = wrangler(["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--json", "--command", sql]);
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
 * Ctrl-C at any point stops both (see process-cleanup.mjs). `progress` gets a line before each slow
 * step (default: printed when `echo`). Resolves with `{ workerUrl, simUrl, sim, stop(), output(),
 * workerExited }`; `workerExited` settles only if wrangler dev dies on its own.
 */
export async function startStack({
  workerPort = 8787,
  simPort = 8788,
  persistTo = ".wrangler/state",
  vars,
  simOptions = {},
  echo = false,
  devVars = false,
  /** Where both servers listen: 127.0.0.1, or 0.0.0.0 so a phone on the LAN can reach them. */
  host = "127.0.0.1",
  progress = echo ? (line) => console.log(line) : () => {},
}) {
  if (await portInUse(workerPort)) throw new Error(`port ${workerPort} on 127.0.0.1 is already in use`);
  progress(`Applying the D1 migrations (local, ${persistTo})…`);
  migrateLocal(persistTo);
  const sim = await startSimServer({
    port: simPort,
    host,
    appId: vars.WECHAT_APPID,
    mchId: vars.WECHAT_MCH_ID,
    apiKey: vars.WECHAT_PAY_KEY,
    appSecret: vars.WECHAT_APP_SECRET,
    closeMinAgeSeconds: 0,
    ...(echo ? {} : { log: () => {} }),
    ...simOptions,
  });
  // The Worker reaches the simulator on this machine, whatever address the servers listen on.
  const simUrl = `http://127.0.0.1:${new URL(sim.url).port}`;
  const urls = { WECHAT_API_BASE: simUrl, WECHAT_PAY_BASE: simUrl };
  const cliVars = devVars ? { WECHAT_APPID: vars.WECHAT_APPID, WECHAT_MCH_ID: vars.WECHAT_MCH_ID, ...urls } : urls;
  let envFile;
  const stopSim = async () => {
    envFile?.remove();
    envFile?.cancelAtExit();
    await sim.close();
  };
  let child;
  try {
    envFile = devVars ? undefined : writeEnvFile(vars);
    const args = [
      wranglerBin, "dev", "--ip", host, "--port", String(workerPort), "--persist-to", persistTo,
      "--show-interactive-dev-session=false", "--log-level", echo ? "log" : "warn",
      ...(envFile ? ["--env-file", envFile.file] : []),
      ...Object.entries(cliVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ];
    progress(`Starting the Worker (wrangler dev) on http://127.0.0.1:${workerPort}…`);
    child = spawnGroup(process.execPath, args, { stdio: ["ignore", echo ? "inherit" : "pipe", echo ? "inherit" : "pipe"], env: wranglerEnv() });
  } catch (error) {
    await stopSim();
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
    await stopSim();
  };
  try {
    await waitForHealth(workerUrl, child, 90_000, progress);
  } catch (error) {
    await stop();
    const tail = output.slice(-4000);
    throw Object.assign(new Error(tail ? `${error.message}\n--- wrangler output ---\n${tail}` : error.message), { problems: error.problems });
  }
  return { workerUrl, simUrl, sim: sim.sim, stop, output: () => output, workerExited };
}
