// Size budget: bundle the Worker the way wrangler does (esbuild, ESM, minified), gzip it, and
// fail above the budget. Printed, never timed.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 64 * 1024;
const result = await build({
  entryPoints: ["src/index.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*", "node:*"],
  write: false,
  metafile: true,
});
const code = result.outputFiles[0].contents;
const gz = gzipSync(code, { level: 9 }).length;
const kib = (n) => (n / 1024).toFixed(1) + " KiB";
console.log(`worker bundle: ${kib(code.length)} minified, ${kib(gz)} gzipped (budget ${kib(BUDGET_BYTES)} gzipped)`);
const inputs = Object.entries(result.metafile.outputs)[0][1].inputs;
const byPackage = {};
for (const [file, info] of Object.entries(inputs)) {
  const m = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  const key = m ? m[1] : "src";
  byPackage[key] = (byPackage[key] ?? 0) + info.bytesInOutput;
}
for (const [k, v] of Object.entries(byPackage).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(24)} ${kib(v)}`);
if (gz > BUDGET_BYTES) {
  console.error(`over budget by ${kib(gz - BUDGET_BYTES)}`);
  process.exit(1);
}
