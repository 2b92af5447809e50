// The local stack shared by `npm start`, `npm run demo` (and its e2e test) and `npm run load`:
// the WeChat simulator (sim/, over HTTP, delivering notifications itself) plus the Worker under
// `wrangler dev` with local D1/KV, migrated, pointed at the simulator.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { startSimServer } from "../sim/server.ts";

/** A TCP port that was free a moment ago on 127.0.0.1 (for throwaway stacks: demo, load). */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** Reads a dotenv-style file (KEY=value lines, # comments). */
export function readVars(file) {
  const vars = {};
  if (!existsSync(file)) return vars;
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith("#")) vars[m[1]] = m[2];
  }
  return vars;
}

const wrangler = (args, options = {}) =>
  spawnSync("npx", ["wrangler", ...args], { encoding: "utf8", env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" }, ...options });

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

async function waitForHealth(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health`);
      const body = await res.json();
      if (res.status === 200) return;
      if (res.status === 503) throw new Error(`Worker config problems: ${body.problems.join("; ")}`);
    } catch (error) {
      if (String(error).includes("config problems")) throw error;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the Worker did not answer ${url}/health within ${timeoutMs} ms`);
}

/**
 * Starts the simulator and the Worker. `vars` are passed to wrangler as --var (they win over
 * wrangler.jsonc "vars"); the simulator is configured with the same appid, mch_id, key and secret.
 */
export async function startStack({ workerPort = 8787, simPort = 8788, persistTo = ".wrangler/state", vars, simOptions = {}, echo = false }) {
  migrateLocal(persistTo);
  const sim = await startSimServer({
    port: simPort,
    appId: vars.WECHAT_APPID,
    mchId: vars.WECHAT_MCH_ID,
    apiKey: vars.WECHAT_PAY_KEY,
    appSecret: vars.WECHAT_APP_SECRET,
    closeMinAgeSeconds: 0,
    ...(echo ? {} : { log: () => {} }),
    ...simOptions,
  });
  const allVars = { ...vars, WECHAT_API_BASE: sim.url, WECHAT_PAY_BASE: sim.url };
  const args = [
    "wrangler", "dev", "--ip", "127.0.0.1", "--port", String(workerPort), "--persist-to", persistTo,
    "--show-interactive-dev-session=false", "--log-level", echo ? "log" : "warn",
    ...Object.entries(allVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child = spawn("npx", args, {
    stdio: ["ignore", echo ? "inherit" : "pipe", echo ? "inherit" : "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    detached: true, // its own process group, so stop() ends wrangler and workerd together
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  const stop = async () => {
    if (child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      await new Promise((r) => setTimeout(r, 300));
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    await sim.close();
  };
  try {
    await waitForHealth(workerUrl, child, 90_000);
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n--- wrangler output ---\n${output.slice(-4000)}`);
  }
  return { workerUrl, simUrl: sim.url, sim: sim.sim, stop, output: () => output };
}
