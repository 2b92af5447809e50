// `npm run bench`: (1) bundles the protocol benchmark with esbuild (as wrangler would bundle src/) and
// runs it under this Node (>= 22, V8 like workerd); (2) measures the notify path end to end, one
// request at a time, against `wrangler dev` with local D1/KV (scripts/load.mjs, concurrency 1).
// Prints numbers; never fails on speed (only on errors or inconsistent D1 state).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { requireSetup, showUsageOnHelp } from "./preflight.mjs";

showUsageOnHelp(`npm run bench — operations per second of the protocol hot paths (scripts/bench-protocol.ts, bundled
with esbuild), then the notify path over HTTP against a throwaway wrangler dev + local D1/KV, one
request at a time (npm run load with --count 200 --concurrency 1 --events 0). Prints numbers; fails only on errors
or inconsistent D1 state. No options.`);
requireSetup();
const { build } = await import("esbuild");

console.log("Bundling the protocol benchmark (esbuild)…");
const dir = mkdtempSync(join(tmpdir(), "wxpay-bench-"));
try {
  const outfile = join(dir, "bench-protocol.mjs");
  await build({ entryPoints: ["scripts/bench-protocol.ts"], bundle: true, format: "esm", platform: "node", target: "node22", outfile, logLevel: "error" });
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  await import(pathToFileURL(outfile).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log("\nNotify path over HTTP (wrangler dev + local D1/KV), one request at a time:");
const { runLoad } = await import("./load.mjs");
// The merchant-events scenario measures the Queue, not the notify path: npm run load runs it.
const { problems } = await runLoad({ count: 200, concurrency: 1, events: 0 });
console.log("Storage round trips (test/integration/notify-cost.test.ts): first notify = 1 KV get + 1 D1 batch + 1 KV put;");
console.log("duplicate known to KV = 1 KV get, no D1; duplicate unknown to KV = 1 KV get + 1 D1 batch (read-only) + 1 KV put.");
if (problems.length) {
  console.error(`FAILED: ${problems.join("; ")}`);
  process.exit(1);
}
