// Checks the scripts run before they import anything from node_modules or sim/: `npm start` before
// `npm ci` runs under whatever Node the machine has (npm finds no node_modules/.bin/node), which may
// be Node 20 and cannot load the simulator's TypeScript. Node built-ins only, Node 20 syntax only.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * One line saying what is missing and how to fix it, or null when the scripts can run: the
 * dependencies installed (wrangler, esbuild, and standardwebhooks for the example merchant receiver
 * `npm start` runs) and this Node ≥ 22 (what `npm run …` provides).
 * @param {{ nodeVersion?: string, packages?: string[] }} [options]
 * @returns {string | null}
 */
export function setupProblem({ nodeVersion = process.versions.node, packages = ["wrangler", "esbuild", "standardwebhooks"] } = {}) {
  const missing = packages.filter((p) => !existsSync(join(root, "node_modules", p, "package.json")));
  if (missing.length) return `Dependencies are not installed (node_modules/${missing[0]} is missing): run \`npm ci\` first.`;
  const major = Number(nodeVersion.split(".")[0]);
  if (major < 22) return `This is Node ${nodeVersion}; the scripts need Node 22, which \`npm ci\` installs: run them as \`npm start\` / \`npm run …\`, not with \`node\` directly.`;
  return null;
}

/** Prints {@link setupProblem}'s line and exits 1 when there is one. */
export function requireSetup() {
  const problem = setupProblem();
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}

/**
 * Handles `--help` / `-h` for a script: prints `usage` and exits 0.
 * @param {string} usage
 */
export function showUsageOnHelp(usage) {
  if (process.argv.slice(2).some((a) => a === "--help" || a === "-h")) {
    console.log(usage);
    process.exit(0);
  }
}
