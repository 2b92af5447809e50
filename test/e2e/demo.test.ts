// End to end over real HTTP: runs `npm run demo` (scripts/demo.mjs) — the simulator and `wrangler dev`
// as real processes with a throwaway local D1/KV — with WeChat Pay API v2 and with v3 (migrating mode:
// the public key and a platform certificate both trusted), and checks every step it printed.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";

/** Runs the demo with `args`; its whole output, once it exited 0. */
function demo(...args: string[]): string {
  const run = spawnSync(process.execPath, ["scripts/demo.mjs", ...args], { encoding: "utf8", timeout: 150_000, env: { ...process.env, CI: "true" } });
  const output = `${run.stdout}\n${run.stderr}`;
  expect(run.status, output).toBe(0);
  return output;
}

it("npm run demo walks login → order → pay → notify → PAID → refunds → REFUNDED over real HTTP", () => {
  const output = demo();
  expect(output).toContain("Demo complete");
  expect(output).toMatch(/"status":"NOTPAY","totalFee":3987/);
  expect(output).toMatch(/"signType":"MD5","paySign":"[0-9A-F]{32}"/);
  expect(output).toMatch(/order: \{"status":"PAID","transactionId":"4200\d{24}"/);
  expect(output).toContain('notification: {"acknowledged":true');
  expect(output).toMatch(/order: \{"status":"REFUNDED","refundedFee":3987\}/);
  expect(output).toMatch(/"refundFee":7,"status":"SUCCESS"/);
  expect(output).toContain("refund_notify:applied");
}, 180_000);

it("npm run demo -- --api v3 --mode migrating walks the same flow on WeChat Pay API v3 (RSA paySign, signed callbacks, both keys trusted)", () => {
  const output = demo("--api", "v3", "--mode", "migrating");
  expect(output).toContain("Demo complete (WeChat Pay API v3, migrating mode)");
  expect(output).toMatch(/"status":"NOTPAY","totalFee":3987,"expiresAt":"[^"]+","api":"v3"/);
  expect(output).toMatch(/"signType":"RSA","paySign":"[A-Za-z0-9+/]{342}=="/);
  expect(output).toMatch(/order: \{"status":"PAID","transactionId":"4200\d{24}"/);
  expect(output).toContain('notification: {"acknowledged":true');
  expect(output).toMatch(/order: \{"status":"REFUNDED","refundedFee":3987\}/);
  expect(output).toMatch(/"refundFee":7,"status":"SUCCESS"/);
  expect(output).toContain('"pay_notify:applied","admin_refund:applied","admin_refund:applied","refund_notify:applied","refund_notify:applied"');
}, 180_000);

it("npm run demo with a wrong --api or --mode: one line naming it, exit 1, nothing started", () => {
  for (const [args, line] of [[["--api", "v4"], "--api must be v2 or v3, got v4"], [["--mode", "certificate"], "--mode applies to --api v3 only"], [["--api", "v3", "--mode", "pubkey"], "--mode must be one of publicKey, certificate, migrating, got pubkey"]] as const) {
    const run = spawnSync(process.execPath, ["scripts/demo.mjs", ...args], { encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(line);
    expect(run.stdout).not.toMatch(/Starting/);
  }
});
