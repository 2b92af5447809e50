// `npm run build`: the merchant console (console/) bundled with esbuild into the Workers static
// assets directory that wrangler.jsonc names (dist/assets): console/{index.html, app.js, app.css} and
// the `_headers` file that gives them a strict CSP. Workers static assets serve these before the
// Worker runs, so the Worker bundle does not grow.
//
// A file whose bytes did not change is not rewritten, and a changed one is written beside its place
// and renamed over it: several throwaway stacks (tests) build at the same time while other
// `wrangler dev`s serve the same directory, and none of them may see a half-written file (or reload
// for nothing).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Where wrangler.jsonc's "assets"."directory" points. */
export const ASSETS_DIR = path.join(root, "dist", "assets");

/**
 * The console's security headers (Workers static assets' `_headers` format). No inline script or
 * style anywhere, API calls to this origin only, never framed. The HTML is never stored and the
 * script and style sheet are revalidated, so a deploy is seen at the next load. (Headers of rules
 * that match the same path are joined, so each path gets its Cache-Control from one rule only.)
 */
const HEADERS_FILE = `/console/*
  Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'
  X-Frame-Options: DENY
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer

/console/
  Cache-Control: no-store

/console/index.html
  Cache-Control: no-store

/console/app.js
  Cache-Control: no-cache

/console/app.css
  Cache-Control: no-cache
`;

/** Writes `bytes` to `file` unless it already holds exactly them; atomically (write, then rename). */
function writeIfChanged(file, bytes) {
  const data = Buffer.from(bytes);
  if (existsSync(file) && readFileSync(file).equals(data)) return false;
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, file);
  return true;
}

/**
 * Builds the console into `outdir` (default dist/assets). Resolves with the files written or kept,
 * relative to `outdir`, and their sizes in bytes.
 * @returns {Promise<{ file: string, bytes: number, changed: boolean }[]>}
 */
export async function buildConsole({ outdir = ASSETS_DIR } = {}) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [
      { in: "console/src/main.tsx", out: "console/app" },
      { in: "console/app.css", out: "console/app" },
    ],
    outdir,
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox110", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    // Chinese text as UTF-8, not \u escapes (half the bytes); module scripts are always read as UTF-8.
    charset: "utf8",
    write: false,
    logLevel: "warning",
  });
  const outputs = result.outputFiles.map((f) => ({ file: path.relative(outdir, f.path), contents: f.contents }));
  outputs.push({ file: "console/index.html", contents: readFileSync(path.join(root, "console", "index.html")) });
  outputs.push({ file: "_headers", contents: new TextEncoder().encode(HEADERS_FILE) });
  return outputs.map(({ file, contents }) => ({ file, bytes: contents.length, changed: writeIfChanged(path.join(outdir, file), contents) }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = await buildConsole();
  for (const { file, bytes, changed } of files) console.log(`  dist/assets/${file}  ${bytes} bytes${changed ? "" : " (unchanged)"}`);
}
