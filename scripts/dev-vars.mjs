// The dotenv format of `.dev.vars`, read exactly as wrangler reads it, and written so that wrangler's
// `--env-file` reads back exactly what we meant. Node built-ins only: scripts/start.mjs loads this
// before it knows node_modules is installed.
import { existsSync, readFileSync } from "node:fs";

// The line grammar of dotenv 16.3.1 (lib/main.js), the version wrangler 4 bundles for `.dev.vars`:
// optional `export `, KEY= or KEY: , a value that is '…', "…", `…` (may span lines) or bare up to a
// `#`, then an optional comment.
const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

/**
 * Parses dotenv text the way wrangler parses `.dev.vars` (dotenv 16.3.1 `parse`): outer quotes are
 * removed, `\n` and `\r` are expanded inside double quotes only, bare values end at `#`, a later
 * line wins. No `$VAR` expansion (wrangler does none for `.dev.vars`).
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseDotenv(text) {
  const vars = {};
  const lines = text.replace(/\r\n?/gm, "\n");
  LINE.lastIndex = 0;
  let m;
  while ((m = LINE.exec(lines)) !== null) {
    let value = (m[2] || "").trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, "$2");
    if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
    vars[m[1]] = value;
  }
  return vars;
}

/**
 * Reads a dotenv file (`.dev.vars`, `.dev.vars.example`) with {@link parseDotenv}; a missing file is
 * an empty set.
 * @param {string} file
 * @returns {Record<string, string>}
 */
export function readVars(file) {
  return existsSync(file) ? parseDotenv(readFileSync(file, "utf8")) : {};
}

/**
 * Writes vars as an `--env-file` for wrangler. Each value is single-quoted (no escape processing in
 * dotenv); wrangler also runs dotenv-expand over env files, so values with `$` are refused, as are
 * `'` and line breaks: better a clear error than a Worker running with a different secret.
 * @param {Record<string, string>} vars
 * @returns {string}
 */
export function toEnvFile(vars) {
  return Object.entries(vars)
    .map(([name, value]) => {
      if (!/^[\w.-]+$/.test(name)) throw new Error(`cannot pass the variable name ${JSON.stringify(name)} to wrangler`);
      if (/['$\r\n]/.test(String(value))) throw new Error(`cannot pass ${name} to wrangler unchanged: its value contains ', $ or a line break`);
      return `${name}='${value}'\n`;
    })
    .join("");
}
