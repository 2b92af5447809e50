// The local stack (scripts/local-stack.mjs, used by demo, load and these tests) hands the Worker its
// secrets through a private env file: they work, yet no process on the machine shows them on its
// command line (`ps`), and stop() leaves no wrangler or workerd behind. With `receiver`, the merchant
// receiver runs beside it, the Worker is given its URL, and stop() closes it too.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { expect, it } from "vitest";
import { exampleVars, freePort, startStack } from "../../scripts/local-stack.mjs";
import { signedHeaders } from "./standard-webhooks.ts";

/** Command lines of every process we can read (Linux /proc). */
function commandLines(): string[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")];
      } catch {
        return [];
      }
    });
}

it.runIf(existsSync("/proc/self/cmdline"))("secrets reach the Worker through an env file, never a command line; stop() ends wrangler and the receiver", async () => {
  const unique = `${Date.now()}${Math.random().toString(36).slice(2)}`;
  const vars: Record<string, string> = { ...exampleVars(), ADMIN_TOKEN: `admin-${unique}`, SESSION_SECRET: `session-secret-${unique}-0123456789abcdef` };
  const persistTo = mkdtempSync(join(tmpdir(), "wxpay-secrets-"));
  const workerPort = await freePort();
  const receiverPort = await freePort();
  const stack = await startStack({ workerPort, simPort: await freePort(), persistTo, vars, receiver: true, receiverPort });
  try {
    expect(stack.receiverUrl).toBe(`http://127.0.0.1:${receiverPort}/webhooks`);
    const body = JSON.stringify({ id: `evt_${unique}`, type: "order.closed", createdAt: new Date().toISOString(), data: { order: { outTradeNo: "T1" } } });
    const delivered = await fetch(stack.receiverUrl as string, { method: "POST", headers: signedHeaders(vars.MERCHANT_WEBHOOK_SECRET as string, `evt_${unique}`, body), body });
    expect(delivered.status, "the receiver verifies with the stack's MERCHANT_WEBHOOK_SECRET").toBe(200);
    expect(stack.receiver?.events.map((e) => e.id)).toEqual([`evt_${unique}`]);

    const reconcile = await fetch(`${stack.workerUrl}/admin/reconcile`, { method: "POST", headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}` } });
    expect(reconcile.status, await reconcile.clone().text()).toBe(200);
    const login = await fetch(`${stack.workerUrl}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"code":"argv-1"}' });
    expect(login.status, "the Worker and the simulator share the AppSecret").toBe(200);

    const lines = commandLines();
    expect(lines.some((l) => l.includes(`--port ${workerPort}`)), "wrangler dev is visible").toBe(true);
    expect(lines.some((l) => l.includes(`--var MERCHANT_WEBHOOK_URL:${stack.receiverUrl}`)), "the Worker is pointed at the receiver").toBe(true);
    for (const name of ["ADMIN_TOKEN", "SESSION_SECRET", "WECHAT_PAY_KEY", "WECHAT_APP_SECRET", "MERCHANT_WEBHOOK_SECRET"] as const) {
      expect(lines.filter((l) => l.includes(vars[name] as string)), `${name} on a command line`).toEqual([]);
    }
  } finally {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
  expect(commandLines().filter((l) => l.includes(`--port ${workerPort}`)), "wrangler still running after stop()").toEqual([]);
  await new Promise<void>((resolve, reject) => {
    const probe = createServer().once("error", reject); // EADDRINUSE: the receiver outlived stop()
    probe.listen(receiverPort, "127.0.0.1", () => probe.close(() => resolve()));
  });
}, 150_000);
