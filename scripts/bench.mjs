// `npm run bench`: bundles the protocol benchmark with esbuild (as wrangler would bundle src/) and
// runs it under this Node (>= 22, V8 like workerd). Prints operations per second; never fails on speed.
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dir = mkdtempSync(join(tmpdir(), "wxpay-bench-"));
try {
  const outfile = join(dir, "bench-protocol.mjs");
  await build({ entryPoints: ["scripts/bench-protocol.ts"], bundle: true, format: "esm", platform: "node", target: "node22", outfile, logLevel: "error" });
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  await import(pathToFileURL(outfile).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
