/**
 * What the console remembers, in sessionStorage only (gone when the tab closes; never localStorage,
 * never a URL): the admin token and the chosen language. Storage that throws (a locked-down
 * browser) just means nothing is remembered.
 */
const TOKEN_KEY = "console.token";
const LANG_KEY = "console.lang";

function read(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // Not remembered: the console still works for this page's life.
  }
}

export const readToken = () => read(TOKEN_KEY);
export const saveToken = (token: string) => write(TOKEN_KEY, token);
export const clearToken = () => write(TOKEN_KEY, null);
export const readLang = () => read(LANG_KEY);
export const saveLang = (lang: string) => write(LANG_KEY, lang);
