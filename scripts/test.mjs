// The one test command (README, .ci/run): console build + typecheck + generated Env types up to date +
// every vitest project (unit, integration, simulator, end-to-end, console in Chromium) + the size
// budgets, closed by one plain summary line for the whole run: "N passed, M failed". Each check is counted as one test; vitest tests are counted one by one.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";

let passed = 0;
let failed = 0;
const failures = [];

function run(label, cmd, args) {
  console.log(`\n=== ${label}: ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", env: process.env });
  return r.status === 0;
}

function check(label, cmd, args) {
  if (run(label, cmd, args)) passed++;
  else { failed++; failures.push(label); }
}

// The console's static assets first: the vitest workers pool reads wrangler.jsonc, whose assets
// directory (dist/assets) must exist, and the console tests serve them through wrangler dev.
check("console build", "node", ["scripts/build.mjs"]);
check("typecheck", "npm", ["run", "--silent", "typecheck"]);
// worker-configuration.d.ts must match wrangler.jsonc (regenerate with `npm run types`).
check("Env types up to date", "npm", ["run", "--silent", "types", "--", "--check"]);

mkdirSync(".test-results", { recursive: true });
rmSync(".test-results/vitest.json", { force: true });
const vitestOk = run("vitest", "npx", ["vitest", "run", "--reporter=default", "--reporter=json", "--outputFile.json=.test-results/vitest.json"]);
try {
  const report = JSON.parse(readFileSync(".test-results/vitest.json", "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  if (report.numFailedTests > 0) failures.push(`${report.numFailedTests} vitest test(s)`);
  if (!vitestOk && report.numFailedTests === 0) { failed++; failures.push("vitest (suite error)"); }
  if (report.numTotalTests === 0) { failed++; failures.push("vitest ran no test"); }
} catch {
  failed++;
  failures.push("vitest (no report)");
}

check("size budget", "node", ["scripts/size.mjs"]);

if (failures.length) console.log(`\nFailed: ${failures.join(", ")}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
