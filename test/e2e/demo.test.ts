// End to end over real HTTP: runs `npm run demo` (scripts/demo.mjs) — the simulator and
// `wrangler dev` as real processes with a throwaway local D1/KV — and checks every step it printed.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";

it("npm run demo walks login → order → pay → notify → PAID → refunds → REFUNDED over real HTTP", () => {
  const run = spawnSync(process.execPath, ["scripts/demo.mjs"], { encoding: "utf8", timeout: 150_000, env: { ...process.env, CI: "true" } });
  const output = `${run.stdout}\n${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain("Demo complete");
  expect(output).toMatch(/"status":"NOTPAY","totalFee":3987/);
  expect(output).toMatch(/"signType":"MD5","paySign":"[0-9A-F]{32}"/);
  expect(output).toMatch(/order: \{"status":"PAID","transactionId":"4200\d{24}"/);
  expect(output).toContain('notification: {"acknowledged":true');
  expect(output).toMatch(/order: \{"status":"REFUNDED","refundedFee":3987\}/);
  expect(output).toMatch(/"refundFee":7,"status":"SUCCESS"/);
  expect(output).toContain("refund_notify:applied");
}, 180_000);
