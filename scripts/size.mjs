// Size budgets of what `npm run deploy` uploads. The Worker: built exactly as deploy would upload it
// (`wrangler deploy --dry-run --env production`, minified per wrangler.jsonc) into a temporary
// directory, its modules gzipped the way wrangler reports them, failing above its budget; the
// breakdown by package / src folder (esbuild's metafile, minified bytes) is informative only. The
// merchant console (static assets, built first by scripts/build.mjs): its script and style sheet,
// each gzipped as a browser downloads it, failing above their own budget.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { ASSETS_DIR, buildConsole } from "./build.mjs";

// 64 KiB until merchant events (outbox delivery, Standard Webhooks signing, admin routes: +2.8 KiB)
// pushed the measured upload to 65.3 KiB; raised to 72 KiB with that breakdown in the README. Raised
// to 74 KiB when admin sign-in through Cloudflare Access and the admin audit trail took it from 71.46
// to 73.45 KiB (+1.99 KiB, all our own code: hono's JWT verify was already in the bundle). Raised to
// 87 KiB when wiring WeChat Pay API v3 into the app took it to 86.24 KiB (+12.79 KiB, no library): the
// v3 protocol core, bundled for the first time (src/wechatpay/v3, 26.2 KiB minified), and its wiring
// (src/orders/v3, config-v3, the callback route, /health's open orders: 14.8 KiB minified). Raised to
// 88 KiB when v3 refunds, the v3 refund callback and the v3 trade bill took it to 87.46 KiB (+1.22 KiB,
// our own code: src/orders +4.2 KiB minified).
// Lowered to 82 KiB when fast-xml-parser's `is-unsafe` import was aliased to a fail-closed stub
// (wrangler.jsonc "alias", src/wechatpay/is-unsafe-stub.ts): 87.46 -> 81.42 KiB.
const BUDGET_BYTES = 82 * 1024;
/** The console's app.js + app.css, gzipped: a merchant's first load on a slow connection. */
const CONSOLE_BUDGET_BYTES = 40 * 1024;
const kib = (n) => (n / 1024).toFixed(2) + " KiB";
let overBudget = false;

// deploy uploads dist/assets too (wrangler.jsonc "assets"), so it must exist and be current.
await buildConsole();
const consoleFiles = ["console/app.js", "console/app.css"];
const consoleGz = consoleFiles.map((f) => gzipSync(readFileSync(path.join(ASSETS_DIR, f))).length);
const consoleTotal = consoleGz.reduce((a, b) => a + b, 0);
console.log(`merchant console (${consoleFiles.map((f, i) => `${path.basename(f)} ${kib(consoleGz[i])}`).join(" + ")}): ${kib(consoleTotal)} gzipped (budget ${kib(CONSOLE_BUDGET_BYTES)} gzipped)`);
if (consoleTotal > CONSOLE_BUDGET_BYTES) {
  console.error(`  console over budget by ${kib(consoleTotal - CONSOLE_BUDGET_BYTES)}`);
  overBudget = true;
}

const work = mkdtempSync(path.join(tmpdir(), "worker-size-"));
try {
  const outdir = path.join(work, "bundle");
  const metafile = path.join(work, "meta.json");
  const build = spawnSync(
    "npx",
    ["wrangler", "deploy", "--dry-run", "--env", "production", "--outdir", outdir, "--metafile", metafile],
    { encoding: "utf8", env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } },
  );
  if (build.status !== 0) {
    console.error(`${build.stdout}\n${build.stderr}\nwrangler deploy --dry-run failed`);
    process.exit(1);
  }

  // What deploy uploads: the modules in outdir (the entry first), not the source maps or wrangler's README.
  const modules = readdirSync(outdir)
    .filter((f) => !f.endsWith(".map") && f !== "README.md")
    .sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)));
  const contents = modules.map((f) => readFileSync(path.join(outdir, f)));
  const raw = contents.reduce((n, c) => n + c.length, 0);
  // wrangler's "Total Upload" figure: gzip (default level) of the modules concatenated.
  const gz = gzipSync(Buffer.concat(contents)).length;
  const reported = /Total Upload: [^\n]*/.exec(build.stdout)?.[0];
  console.log(`deployed worker (${modules.join(", ")}): ${kib(raw)} minified, ${kib(gz)} gzipped (budget ${kib(BUDGET_BYTES)} gzipped)`);
  if (reported) console.log(`  wrangler: ${reported}`);

  const meta = JSON.parse(readFileSync(metafile, "utf8"));
  const output = Object.entries(meta.outputs).find(([file]) => !file.endsWith(".map"))?.[1];
  const byGroup = {};
  for (const [file, info] of Object.entries(output?.inputs ?? {})) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
    const group = pkg ?? (/^src\/[^/]+\//.exec(file)?.[0] ?? (file.startsWith("src/") ? "src/*.ts" : file));
    byGroup[group] = (byGroup[group] ?? 0) + info.bytesInOutput;
  }
  console.log("  minified bytes by package / src folder (informative):");
  for (const [group, bytes] of Object.entries(byGroup).sort((a, b) => b[1] - a[1])) {
    console.log(`    ${group.padEnd(28)} ${kib(bytes)}`);
  }

  if (gz > BUDGET_BYTES) {
    console.error(`worker over budget by ${kib(gz - BUDGET_BYTES)}`);
    overBudget = true;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (overBudget) process.exit(1);
