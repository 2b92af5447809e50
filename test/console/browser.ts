/**
 * Real Chromium for the console tests: Debian's /usr/bin/chromium driven by playwright-core (which
 * never downloads a browser), axe-core scans, CSP-violation capture and screenshots under
 * .test-results/console/. A missing Chromium fails the tests with the command that installs it.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const SCREENSHOTS = ".test-results/console";

/** Launches Debian's Chromium headless, with a fresh temporary profile. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing (${CHROMIUM}): run \`apt-get update && apt-get install -y chromium fonts-wqy-microhei\` (as root, or with sudo), as .ci/run does`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** What a page reported that a console must never cause: CSP violations and uncaught errors. */
export interface Trouble {
  violations: string[];
  errors: string[];
}

/**
 * A browser context in `locale` that records every CSP violation (the securitypolicyviolation event,
 * and Chromium's console report of one) and every uncaught page error into `trouble`.
 */
export async function newContext(browser: Browser, locale: string, trouble: Trouble): Promise<BrowserContext> {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
  // An init script is injected by the browser itself (not by the page), so the CSP does not apply to it.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const seen = ((window as unknown as { __cspViolations?: string[] }).__cspViolations ??= []);
      seen.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  context.on("page", (page) => watch(page, trouble));
  return context;
}

function watch(page: Page, trouble: Trouble) {
  page.on("console", (message) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(message.text())) trouble.violations.push(message.text());
  });
  page.on("pageerror", (error) => trouble.errors.push(error.message));
}

/** The violations the page itself saw (securitypolicyviolation events). */
export const pageViolations = (page: Page) => page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * axe-core's serious and critical violations on the page as it is now ("rule: target" strings).
 * axe is evaluated through the DevTools protocol, not added as a script tag, so the console's CSP
 * stays as strict as it is in production.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const results = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[] }> } }).axe;
    return axe.run(document, { resultTypes: ["violations"] });
  });
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${JSON.stringify(n.target)}`));
}

/** A full-page screenshot, .test-results/console/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}
