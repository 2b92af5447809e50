/**
 * The console's words: every visible string lives in the two dictionaries (zh.ts, the default, and
 * en.ts, with the same keys; test/console/i18n.test.ts holds them to that). `{name}` in a message is
 * replaced by the parameter of that name.
 */
import { en } from "./en";
import { zh } from "./zh";

export type Lang = "zh" | "en";
export type MessageKey = keyof typeof zh;
export type Messages = Record<MessageKey, string>;
export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

const DICTIONARIES: Record<Lang, Messages> = { zh, en };

/** `<html lang>` for each language. */
export const HTML_LANG: Record<Lang, string> = { zh: "zh-CN", en: "en" };

export function translator(lang: Lang): Translate {
  const messages = DICTIONARIES[lang];
  return (key, params) => {
    const message = messages[key];
    return params ? message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole)) : message;
  };
}

/**
 * Chinese unless the browser prefers English: the first of `languages` that is Chinese or English
 * decides (["en-US", "zh-CN"] → en; ["zh-TW", "en"] → zh; ["fr"] → zh).
 */
export function preferredLang(languages: readonly string[]): Lang {
  for (const language of languages) {
    const primary = language.toLowerCase().split("-")[0];
    if (primary === "en") return "en";
    if (primary === "zh") return "zh";
  }
  return "zh";
}

export const isLang = (value: unknown): value is Lang => value === "zh" || value === "en";
