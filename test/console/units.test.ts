// The console's pure parts in Node: exact money in both directions, the two dictionaries, the
// language choice, Beijing dates, hash routes; and a scan of the console's sources for what its CSP
// and security rules forbid (inline styles, innerHTML, localStorage, console output).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { beijingYesterday, formatTime, toBillDate } from "../../console/src/dates";
import { en } from "../../console/src/i18n/en";
import { zh } from "../../console/src/i18n/zh";
import { preferredLang, translator } from "../../console/src/i18n";
import { fenToYuanInput, formatFen, MAX_FEN, parseYuan } from "../../console/src/money";
import { parseRoute } from "../../console/src/router";

describe("money", () => {
  it("formats integer fen as yuan with two decimals and separators", () => {
    expect(formatFen(1990)).toBe("¥19.90");
    expect(formatFen(995)).toBe("¥9.95");
    expect(formatFen(5)).toBe("¥0.05");
    expect(formatFen(0)).toBe("¥0.00");
    expect(formatFen(123456)).toBe("¥1,234.56");
    expect(formatFen(MAX_FEN)).toBe("¥1,000,000.00");
    expect(formatFen(2_147_483_647)).toBe("¥21,474,836.47");
    expect(formatFen(-250)).toBe("-¥2.50");
    expect(formatFen(19.9)).toBe("¥?");
  });

  it("reads typed yuan into exact fen, where float arithmetic would be off by one", () => {
    // 0.07 * 100 = 7.000000000000001 and 1.15 * 100 = 114.99999999999999 in floating point.
    expect(parseYuan("0.07")).toEqual({ ok: true, fen: 7 });
    expect(parseYuan("1.15")).toEqual({ ok: true, fen: 115 });
    expect(parseYuan("9.95")).toEqual({ ok: true, fen: 995 });
    expect(parseYuan("19.9")).toEqual({ ok: true, fen: 1990 });
    expect(parseYuan(" 19.90 ")).toEqual({ ok: true, fen: 1990 });
    expect(parseYuan("10")).toEqual({ ok: true, fen: 1000 });
    expect(parseYuan("007.50")).toEqual({ ok: true, fen: 750 });
    expect(parseYuan("0.01")).toEqual({ ok: true, fen: 1 });
    expect(parseYuan("1000000")).toEqual({ ok: true, fen: MAX_FEN });
    for (let fen = 1; fen <= 30_000; fen++) expect(parseYuan(fenToYuanInput(fen))).toEqual({ ok: true, fen });
  });

  it("refuses what is not an amount, naming the problem", () => {
    const problem = (text: string, max?: number) => {
      const parsed = parseYuan(text, max);
      return parsed.ok ? parsed.fen : parsed.problem;
    };
    expect(problem("")).toBe("empty");
    expect(problem("   ")).toBe("empty");
    expect(problem("-1")).toBe("negative");
    expect(problem("-0.01")).toBe("negative");
    expect(problem("9.955")).toBe("tooManyDecimals");
    expect(problem("0.001")).toBe("tooManyDecimals");
    for (const text of ["abc", "1e3", "1,000", "0x10", ".", "1.", ".5", "+5", "¥5", "5元", "Infinity", "NaN", "1 000", "１０"]) expect(problem(text), text).toBe("notNumber");
    expect(problem("0")).toBe("zero");
    expect(problem("0.00")).toBe("zero");
    expect(problem("1000000.01")).toBe("tooLarge");
    expect(problem("99999999999999999999")).toBe("tooLarge");
    expect(problem("19.91", 1990)).toBe("tooLarge");
    expect(problem("19.90", 1990)).toBe(1990);
  });
});

describe("dictionaries", () => {
  const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

  it("zh and en have the same keys, no empty value, and the same placeholders per key", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort());
    for (const [key, value] of [...Object.entries(zh), ...Object.entries(en)]) expect(value.trim(), key).not.toBe("");
    for (const key of Object.keys(zh) as (keyof typeof zh)[]) expect(placeholders(en[key]), key).toEqual(placeholders(zh[key]));
  });

  it("every key the console's sources use exists", () => {
    const used = new Set<string>();
    for (const file of sources()) {
      for (const m of readFileSync(file, "utf8").matchAll(/\bt\(\s*"([\w.]+)"/g)) used.add(m[1] as string);
    }
    expect(used.size).toBeGreaterThan(150);
    expect([...used].filter((key) => !(key in zh))).toEqual([]);
  });

  it("fills parameters", () => {
    expect(translator("zh")("refund.confirm", { amount: "¥9.95" })).toBe("确认退款 ¥9.95");
    expect(translator("en")("refund.confirm", { amount: "¥9.95" })).toBe("Refund ¥9.95");
  });

  it("is Chinese unless the browser prefers English", () => {
    expect(preferredLang(["zh-CN", "en"])).toBe("zh");
    expect(preferredLang(["en-US", "zh-CN"])).toBe("en");
    expect(preferredLang(["fr-FR", "en-GB"])).toBe("en");
    expect(preferredLang(["zh-TW", "en"])).toBe("zh");
    expect(preferredLang(["fr"])).toBe("zh");
    expect(preferredLang([])).toBe("zh");
  });
});

describe("dates and routes", () => {
  it("yesterday is a Beijing day (UTC+8)", () => {
    expect(beijingYesterday(new Date("2026-12-02T15:59:59Z"))).toBe("2026-12-01");
    expect(beijingYesterday(new Date("2026-12-02T16:00:00Z"))).toBe("2026-12-02");
    expect(beijingYesterday(new Date("2027-01-01T00:00:00Z"))).toBe("2026-12-31");
    expect(toBillDate("2026-12-01")).toBe("20261201");
    expect(toBillDate("")).toBeNull();
    expect(formatTime("2026-12-02T12:00:00.000Z")).toBe("2026-12-02 20:00:00");
    expect(formatTime(null)).toBe("–");
  });

  it("reads hash routes", () => {
    expect(parseRoute("")).toEqual({ page: "orders" });
    expect(parseRoute("#/orders/ABC123")).toEqual({ page: "order", outTradeNo: "ABC123" });
    expect(parseRoute("#/webhooks/evt_1")).toEqual({ page: "webhook", id: "evt_1" });
    expect(parseRoute("#/reconciliation")).toEqual({ page: "reconciliation" });
    expect(parseRoute("#/nowhere")).toEqual({ page: "orders" });
    expect(parseRoute("#/orders/%E0%A4%A")).toEqual({ page: "orders" });
  });
});

describe("console sources", () => {
  it("use no inline style, innerHTML, localStorage, eval or console output, and the page has no inline script", () => {
    for (const file of sources()) {
      const text = readFileSync(file, "utf8");
      for (const forbidden of [/\bstyle=/, /innerHTML/, /dangerouslySetInnerHTML/, /\blocalStorage\s*[.[]/, /\beval\(/, /new Function/, /\bconsole\.(log|info|warn|error|debug)\b/]) {
        expect(forbidden.test(text), `${file} matches ${forbidden}`).toBe(false);
      }
    }
    const html = readFileSync("console/index.html", "utf8");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=|<style/);
  });
});

/** Every source file of the console. */
function sources(dir = "console/src"): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}
