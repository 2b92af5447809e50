// The .dev.vars format as wrangler reads it (dotenv 16.3.1 `parse`, which wrangler 4 bundles), the
// env file the local stack hands to `wrangler dev --env-file`, and the setup check the scripts run
// before importing anything from node_modules.
import { describe, expect, it } from "vitest";
import { parseDotenv, toEnvFile } from "../../scripts/dev-vars.mjs";
import { setupProblem } from "../../scripts/preflight.mjs";

describe("parseDotenv reads .dev.vars like wrangler", () => {
  it("removes single, double and backtick quotes", () => {
    expect(parseDotenv(`A="double"\nB='single'\nC=\`backtick\`\nD=bare`)).toEqual({ A: "double", B: "single", C: "backtick", D: "bare" });
  });

  it("expands \\n and \\r inside double quotes only", () => {
    expect(parseDotenv(String.raw`A="one\ntwo\rthree"` + "\n" + String.raw`B='one\ntwo'` + "\n" + String.raw`C=one\ntwo`)).toEqual({
      A: "one\ntwo\rthree",
      B: String.raw`one\ntwo`,
      C: String.raw`one\ntwo`,
    });
  });

  it("accepts an export prefix and KEY: value", () => {
    expect(parseDotenv("export A=1\nexport   B='2'\nC: 3")).toEqual({ A: "1", B: "2", C: "3" });
  });

  it("ends bare values at #, keeps # inside quotes, skips comment lines", () => {
    const text = ["# a comment", "A=value # inline comment", "B=abc#def", 'C="keep # this" # not this', "  # indented comment", "D='x#y'"].join("\n");
    expect(parseDotenv(text)).toEqual({ A: "value", B: "abc", C: "keep # this", D: "x#y" });
  });

  it("trims around bare values, keeps spaces inside quotes", () => {
    expect(parseDotenv("A =  spaced out  \nB=' padded '\n  C = \"  x  \"  ")).toEqual({ A: "spaced out", B: " padded ", C: "  x  " });
  });

  it("reads CRLF files, empty values and quoted values spanning lines; a later line wins", () => {
    expect(parseDotenv('A=1\r\nB=\r\nC="line one\r\nline two"\r\nA=2\r\n')).toEqual({ A: "2", B: "", C: "line one\nline two" });
  });

  it("does not expand $VAR (wrangler does not for .dev.vars)", () => {
    expect(parseDotenv("A=x\nB=$A-${A}")).toEqual({ A: "x", B: "$A-${A}" });
  });

  it("ignores lines that are not assignments", () => {
    expect(parseDotenv("just text\n=novalue\nA=1")).toEqual({ A: "1" });
  });
});

describe("toEnvFile writes what wrangler reads back unchanged", () => {
  it("round-trips values with spaces, #, quotes, backslashes and unicode", () => {
    const vars = { A: "plain", B: " spaced ", C: "has # hash", D: 'double " quote', E: "back\\slash\\n", F: "微信支付", G: "" };
    expect(parseDotenv(toEnvFile(vars))).toEqual(vars);
  });

  it("refuses what dotenv or dotenv-expand would change: ', $, line breaks, odd names", () => {
    expect(() => toEnvFile({ A: "it's" })).toThrow("cannot pass A to wrangler unchanged");
    expect(() => toEnvFile({ A: "pa$$word" })).toThrow("cannot pass A");
    expect(() => toEnvFile({ A: "two\nlines" })).toThrow("cannot pass A");
    expect(() => toEnvFile({ "A B": "x" })).toThrow("cannot pass the variable name");
  });
});

describe("setupProblem (the check before anything is imported from node_modules)", () => {
  it("names the missing package and npm ci", () => {
    expect(setupProblem({ packages: ["wrangler", "no-such-package-here"] })).toBe(
      "Dependencies are not installed (node_modules/no-such-package-here is missing): run `npm ci` first.",
    );
  });

  it("refuses Node 20 and says to run through npm", () => {
    expect(setupProblem({ nodeVersion: "20.20.2" })).toMatch(/^This is Node 20\.20\.2; the scripts need Node 22, which `npm ci` installs/);
  });

  it("is null when installed and on Node 22", () => {
    expect(setupProblem({ nodeVersion: "22.23.3" })).toBeNull();
  });
});
