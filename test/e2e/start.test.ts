// `npm start` as a newcomer meets it, run for real (npm, wrangler dev, the simulator) in a throwaway
// copy of the project, so the developer's .dev.vars and .wrangler/state are never touched:
// refusals are one line with exit code 1 (no npm ci, a taken port, a bad .dev.vars), quoted
// .dev.vars values reach the Worker, the simulator and the merchant receiver as wrangler reads them,
// the receiver prints what it receives in the same terminal, WECHAT_PAY_API=v3 in .dev.vars makes new
// orders v3, and Ctrl-C — during startup or after — leaves no process behind and the ports free.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { signedHeaders } from "./standard-webhooks.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const sandboxes: string[] = [];
const servers: Server[] = [];

afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const dir of sandboxes.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the project in a temporary directory: scripts and config copied, sources linked. */
function sandbox({ installed = true, devVars }: { installed?: boolean; devVars?: string } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "wxpay-start-"));
  sandboxes.push(dir);
  // The wrangler config is copied (wrangler looks for .dev.vars beside it), whatever its format.
  for (const file of ["package.json", ".dev.vars.example", "wrangler.toml", "wrangler.jsonc", "wrangler.json"]) {
    if (existsSync(join(repo, file))) copyFileSync(join(repo, file), join(dir, file));
  }
  cpSync(join(repo, "scripts"), join(dir, "scripts"), { recursive: true }); // so it checks *this* node_modules
  for (const linked of ["src", "sim", "migrations", "examples", "console", ...(installed ? ["node_modules"] : [])]) symlinkSync(join(repo, linked), join(dir, linked));
  if (devVars !== undefined) writeFileSync(join(dir, ".dev.vars"), devVars);
  return dir;
}

const listen = (port = 0) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
const portOf = (server: Server) => (server.address() as { port: number }).port;

/** A free port now (the listener is closed again). */
async function freePort(): Promise<number> {
  const server = await listen();
  const port = portOf(server);
  await new Promise((r) => server.close(r));
  return port;
}

/** A port held by this test until it ends. */
async function takenPort(): Promise<number> {
  const server = await listen();
  servers.push(server);
  return portOf(server);
}

/** PATH without any node_modules/.bin: what a shell has before `npm ci` (the machine's node and npm). */
const machinePath = () => (process.env.PATH ?? "").split(delimiter).filter((p) => !p.includes("node_modules/.bin")).join(delimiter);

function npmStartSync(dir: string, env: Record<string, string>) {
  const r = spawnSync("npm", ["start", "--silent"], { cwd: dir, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.trim().split("\n") };
}

/** `npm start` in its own process group, as a terminal runs it (Ctrl-C = SIGINT to the group). */
function npmStart(dir: string, env: Record<string, string>) {
  const child = spawn("npm", ["start", "--silent"], { cwd: dir, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const waitFor = async (text: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!output.includes(text)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  // The group may be gone already (npm start refused or crashed): then there is nothing to stop.
  const ctrlC = () => {
    try {
      process.kill(-(child.pid as number), "SIGINT");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  };
  return { child, output: () => output, exited, waitFor, ctrlC };
}

/** Processes whose working directory is inside `dir` (Linux /proc); what an orphan would be. */
function processesIn(dir: string): string[] {
  if (!existsSync("/proc/self/cwd")) return [];
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) found.push(pid);
    } catch {} // gone, or not ours to read
  }
  return found;
}

/** Waits until no process runs in `dir` (or fails listing them) and the ports are free. */
async function expectNothingLeft(dir: string, ...ports: number[]) {
  let left = processesIn(dir);
  for (const deadline = Date.now() + 5000; left.length && Date.now() < deadline; left = processesIn(dir)) await new Promise((r) => setTimeout(r, 200));
  expect(left, "processes still running in the sandbox").toEqual([]);
  for (const port of ports) {
    const server = await listen(port); // throws EADDRINUSE if an orphan kept the port
    await new Promise((r) => server.close(r));
  }
}

/** A test-only Standard Webhooks secret (32 random bytes) that the receiver must get unquoted. */
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const QUOTED_DEV_VARS = [
  "# quoted values, as many dotenv files have them (wrangler reads them without the quotes)",
  'WECHAT_APP_SECRET="local-app-secret-for-the-simulator"',
  "export WECHAT_PAY_KEY='192006250b4c09247ec02edce69f6a2d'   # the documentation's example key",
  "SESSION_SECRET=e2e-session-secret-0123456789abcdef-0123 # inline comment",
  `ADMIN_TOKEN="e2e/admin+token~quoted.0123="  # a bearer token may use / + ~ . and a trailing =`,
  `MERCHANT_WEBHOOK_SECRET="${WEBHOOK_SECRET}"  # base64 may end in =`,
  "",
].join("\n");
/** A .dev.vars from before merchant events: everything but the receiver still starts. */
const DEV_VARS_WITHOUT_WEBHOOK_SECRET = QUOTED_DEV_VARS.replace(/^MERCHANT_WEBHOOK_SECRET=.*\n/m, "");

describe("npm start refuses with one line and exit code 1", () => {
  it("before npm ci (no node_modules), under the machine's node", () => {
    const dir = sandbox({ installed: false });
    const r = npmStartSync(dir, { PATH: machinePath() });
    expect(r.status, r.stderr).toBe(1);
    expect(r.lines).toEqual(["Dependencies are not installed (node_modules/wrangler is missing): run `npm ci` first."]);
    expect(existsSync(join(dir, ".dev.vars")), "nothing is created before the check").toBe(false);
  });

  it("when PORT is taken: names PORT and the fix, starts nothing", async () => {
    const port = await takenPort();
    const dir = sandbox();
    const r = npmStartSync(dir, { PORT: String(port), SIM_PORT: String(await freePort()) });
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(new RegExp(`^Port ${port} \\(PORT\\) is already in use on 127\\.0\\.0\\.1 .*PORT=\\d+ npm start$`));
    expect(r.stdout).not.toContain("Worker:");
    expect(r.stdout).not.toContain("migrations");
  });

  it("when SIM_PORT is taken: names SIM_PORT", async () => {
    const port = await takenPort();
    const r = npmStartSync(sandbox(), { PORT: String(await freePort()), SIM_PORT: String(port) });
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(new RegExp(`^Port ${port} \\(SIM_PORT\\) is already in use.*SIM_PORT=\\d+ npm start$`));
  });

  it("when RECEIVER_PORT is taken: names RECEIVER_PORT", async () => {
    const port = await takenPort();
    const r = npmStartSync(sandbox(), { PORT: String(await freePort()), SIM_PORT: String(await freePort()), RECEIVER_PORT: String(port) });
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(new RegExp(`^Port ${port} \\(RECEIVER_PORT\\) is already in use.*RECEIVER_PORT=\\d+ npm start$`));
  });

  it("when two of PORT, SIM_PORT and RECEIVER_PORT are equal", () => {
    const r = npmStartSync(sandbox(), { PORT: "18787", SIM_PORT: "18788", RECEIVER_PORT: "18787" });
    expect(r.status).toBe(1);
    expect(r.lines).toEqual(["PORT and RECEIVER_PORT are both 18787: give them different values."]);
  });

  it("when PORT is not a port number", () => {
    const r = npmStartSync(sandbox(), { PORT: "80a" });
    expect(r.status).toBe(1);
    expect(r.lines).toEqual(["PORT=80a is not a port number: use 1-65535, e.g. PORT=8797 npm start"]);
  });

  it("when .dev.vars lacks a secret, or the key is short: names it and the fix", async () => {
    const ports = { PORT: String(await freePort()), SIM_PORT: String(await freePort()) };
    const missing = npmStartSync(sandbox({ devVars: QUOTED_DEV_VARS.replace(/^ADMIN_TOKEN=.*$/m, "") }), ports);
    expect(missing.status).toBe(1);
    expect(missing.lines).toEqual([".dev.vars has no ADMIN_TOKEN: fix .dev.vars (see .dev.vars.example), or delete it to start again from the example."]);
    const short = npmStartSync(sandbox({ devVars: QUOTED_DEV_VARS.replace("a2d'", "a2'") }), ports);
    expect(short.status).toBe(1);
    expect(short.lines).toEqual(["WECHAT_PAY_KEY in .dev.vars has 31 characters, an API v2 key has exactly 32: fix .dev.vars (see .dev.vars.example), or delete it to start again from the example."]);
    expect(short.stdout).not.toContain("migrations");
    const badWebhookSecret = npmStartSync(sandbox({ devVars: QUOTED_DEV_VARS.replace(WEBHOOK_SECRET, "whsec_not-base64") }), ports);
    expect(badWebhookSecret.status).toBe(1);
    expect(badWebhookSecret.lines).toEqual([
      "MERCHANT_WEBHOOK_SECRET in .dev.vars is not whsec_ followed by the base64 of 24 to 64 random bytes: fix .dev.vars (see .dev.vars.example), or delete it to start again from the example.",
    ]);
    expect(badWebhookSecret.stdout).not.toContain("migrations");
  });
});

describe("npm start runs the stack it reports, and Ctrl-C stops all of it", () => {
  it("Ctrl-C while wrangler dev is starting leaves no process and frees the port", async () => {
    // A .dev.vars without MERCHANT_WEBHOOK_SECRET: the receiver stays off, so its port is not even checked.
    const dir = sandbox({ devVars: DEV_VARS_WITHOUT_WEBHOOK_SECRET });
    const port = await freePort();
    const run = npmStart(dir, { PORT: String(port), SIM_PORT: String(await freePort()), RECEIVER_PORT: String(await takenPort()) });
    await run.waitFor("Starting the Worker (wrangler dev)", 90_000);
    expect(run.output()).toContain("Merchant events are off: .dev.vars has no MERCHANT_WEBHOOK_SECRET (copy that line from .dev.vars.example to see them).");
    await new Promise((r) => setTimeout(r, 1500)); // wrangler is spawned and busy starting workerd
    run.ctrlC();
    const exit = await run.exited;
    expect(exit.code ?? exit.signal, run.output()).not.toBe(0);
    expect(run.output()).not.toContain("Press Ctrl-C to stop");
    await expectNothingLeft(dir, port);
  }, 150_000);

  it("with quoted .dev.vars values: the printed walkthrough works, events show up in the same terminal; Ctrl-C stops everything", async () => {
    const dir = sandbox({ devVars: QUOTED_DEV_VARS });
    const port = await freePort();
    const receiverPort = await freePort();
    const run = npmStart(dir, { PORT: String(port), SIM_PORT: String(await freePort()), RECEIVER_PORT: String(receiverPort) });
    try {
      await run.waitFor("Press Ctrl-C to stop.", 150_000);
      const W = `http://127.0.0.1:${port}`;
      expect(run.output()).toContain(`Worker:    ${W}`);
      // The merchant console, built by npm start and served by wrangler dev as static assets.
      expect(run.output()).toContain(`Console:   ${W}/console/`);
      const page = await fetch(`${W}/console/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script type="module" src="app.js"></script>');
      // The receiver the Worker is pointed at verifies with the unquoted secret and prints each event here.
      const M = `http://127.0.0.1:${receiverPort}/webhooks`;
      expect(run.output()).toContain(`Merchant:  ${M}`);
      const event = { id: `evt_start_${Date.now()}`, type: "order.paid", createdAt: new Date().toISOString(), data: { order: { outTradeNo: "T-START", totalFee: 1990, refundedFee: 0 } } };
      const body = JSON.stringify(event);
      const delivered = await fetch(M, { method: "POST", headers: signedHeaders(WEBHOOK_SECRET, event.id, body), body });
      expect(delivered.status, await delivered.clone().text()).toBe(200);
      await run.waitFor(`[merchant] order.paid ${event.id} outTradeNo=T-START totalFee=1990 refundedFee=0`, 5000);
      const stored = readFileSync(join(dir, ".wrangler/merchant-webhook/events.jsonl"), "utf8").trim().split("\n");
      expect(stored.map((line) => JSON.parse(line).event)).toEqual([event]);
      // The walkthrough's admin call, run by a shell exactly as printed: the token arrives unquoted.
      const reconcileLine = run.output().split("\n").find((l) => l.includes(`${W}/admin/reconcile`)) as string;
      const reconcile = spawnSync("sh", ["-c", reconcileLine], { encoding: "utf8" });
      expect(JSON.parse(reconcile.stdout), reconcile.stdout + reconcile.stderr).toHaveProperty("wechatCalls");
      // Login checks the AppSecret and ordering signs with the key: Worker and simulator agree on both.
      const login = await fetch(`${W}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: "newcomer-1" }) });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const order = await fetch(`${W}/api/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ items: [{ sku: "tea", quantity: 1 }] }),
      });
      expect(order.status, await order.clone().text()).toBe(201);
      // wrangler read .dev.vars itself: no secret on any command line of the stack (ps shows those).
      const commandLines = processesIn(dir).flatMap((pid) => {
        try {
          return [readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")];
        } catch {
          return []; // exited meanwhile
        }
      });
      if (existsSync("/proc/self/cmdline")) expect(commandLines.some((l) => l.includes("wrangler") && l.includes(" dev "))).toBe(true);
      for (const secret of ["e2e/admin+token~quoted", "e2e-session-secret", "192006250b4c09247ec02edce69f6a2d", "local-app-secret", WEBHOOK_SECRET.slice(6, 30)]) {
        expect(commandLines.filter((l) => l.includes(secret))).toEqual([]);
      }
      // The Worker is told where the receiver is (a var, not a secret).
      if (existsSync("/proc/self/cmdline")) expect(commandLines.some((l) => l.includes(`--var MERCHANT_WEBHOOK_URL:${M}`))).toBe(true);
    } finally {
      run.ctrlC();
    }
    const exit = await run.exited;
    expect(exit.code ?? exit.signal).not.toBe(0);
    await expectNothingLeft(dir, port, receiverPort);
  }, 240_000);

  it("with WECHAT_PAY_API=v3 in .dev.vars: new orders use API v3 (RSA paySign), the simulator pays them and the signed callback reaches the Worker", async () => {
    // The example's v3 lines (the simulator's TEST-ONLY keys, public-key mode), switched on.
    const dir = sandbox({ devVars: `${readFileSync(join(repo, ".dev.vars.example"), "utf8")}\nWECHAT_PAY_API=v3\n` });
    const port = await freePort();
    const simPort = await freePort();
    const run = npmStart(dir, { PORT: String(port), SIM_PORT: String(simPort), RECEIVER_PORT: String(await freePort()) });
    try {
      await run.waitFor("Press Ctrl-C to stop.", 150_000);
      expect(run.output()).toContain("New orders: WeChat Pay API v3, publicKey mode");
      const W = `http://127.0.0.1:${port}`;
      const json = { "content-type": "application/json" };
      const { token } = (await (await fetch(`${W}/api/login`, { method: "POST", headers: json, body: JSON.stringify({ code: "v3-newcomer-1" }) })).json()) as { token: string };
      const created = await fetch(`${W}/api/orders`, { method: "POST", headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify({ items: [{ sku: "tea", quantity: 1 }] }) });
      const { order, payment } = (await created.json()) as { order: { outTradeNo: string; api: string }; payment: { signType: string } };
      expect([created.status, order.api, payment.signType]).toEqual([201, "v3", "RSA"]);
      const paid = await fetch(`http://127.0.0.1:${simPort}/__sim/pay`, { method: "POST", headers: json, body: JSON.stringify({ payment }) });
      expect(paid.status, await paid.clone().text()).toBe(200);
      let status = "";
      for (let i = 0; i < 40 && status !== "PAID"; i++) {
        await new Promise((r) => setTimeout(r, 250));
        const read = (await (await fetch(`${W}/admin/orders/${order.outTradeNo}`, { headers: { authorization: "Bearer local-admin-token-change-me" } })).json()) as { order: { status: string }; events: { kind: string }[] };
        status = read.order.status;
        if (status === "PAID") expect(read.events.map((e) => e.kind)).toEqual(["pay_notify"]);
      }
      expect(status).toBe("PAID");
    } finally {
      run.ctrlC();
    }
    await run.exited;
    await expectNothingLeft(dir, port);
  }, 240_000);
});
