/**
 * Stands in for the npm package `is-unsafe` in the deployed bundle (wrangler.jsonc "alias"), which saves
 * about 5 KiB gzipped of a Worker that must stay small.
 *
 * fast-xml-parser imports `is-unsafe` for one purpose: to vet the values of entities declared in a
 * document's DOCTYPE (`onInputEntity` of its entity decoder). This Worker never lets one through:
 * src/wechatpay/xml.ts refuses any `<!DOCTYPE`/`<!ENTITY` before the parser sees the text, and parses
 * with `processEntities: false`. Should that ever change, this stub answers "unsafe" for everything,
 * so every declared entity is blocked rather than expanded: failing closed, never open.
 */

/** Always true: every entity value is treated as unsafe, so the parser blocks it. */
export function isUnsafe(_value: string, _contexts?: unknown): boolean {
  return true;
}

/** The context lists fast-xml-parser passes to `isUnsafe`; their content no longer matters. */
export const HTML: readonly RegExp[] = [];
export const XML: readonly RegExp[] = [];
