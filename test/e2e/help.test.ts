// `--help` of the npm scripts that start a stack: usage, exit 0, nothing started. A wrong option of
// `npm run load` is one line plus the usage, exit 1.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const npmRun = (...args: string[]) => spawnSync("npm", ["run", "--silent", ...args], { encoding: "utf8", timeout: 30_000 });

describe("--help", () => {
  it.each([
    ["load", /^npm run load -- \[--count N\] \[--concurrency C\] \[--events N\]\n[\s\S]*--count N[\s\S]*--concurrency C[\s\S]*--events N/],
    ["bench", /^npm run bench — operations per second/],
    ["demo", /^npm run demo — walks the whole payment flow/],
    ["start", /^npm start — [\s\S]*PORT[\s\S]*SIM_PORT[\s\S]*RECEIVER_PORT/],
  ])("npm run %s -- --help prints the usage and starts nothing", (script, usage) => {
    const r = npmRun(script, "--", "--help");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(usage);
    expect(r.stdout).not.toMatch(/Starting|Applying|Bundling/);
  });

  it("npm run load with a wrong option: one line, then the usage, exit 1", () => {
    for (const args of [["--count", "0"], ["--cuont", "5"], ["--events", "501"]]) {
      const r = npmRun("load", "--", ...args);
      expect(r.status).toBe(1);
      const [first, blank, usage] = r.stderr.split("\n");
      expect(first).toMatch(/^(--count must be a positive integer|Unknown option '--cuont'|--events must be an integer from 0 to 500)/);
      expect([blank, usage]).toEqual(["", "npm run load -- [--count N] [--concurrency C] [--events N]"]);
    }
  });
});
