/** Text limits of WeChat's fields (body, attach, refund_desc …), which count UTF-8 bytes. */

/** Characters outside the Basic Multilingual Plane (emoji, rare CJK): WeChat Pay API v3 refuses them in every field. */
const OUTSIDE_BMP = /[\u{10000}-\u{10FFFF}]/gu;

/** Whether `text` holds a character API v3 refuses (see {@link withoutOutsideBmp}). */
export const hasOutsideBmp = (text: string): boolean => text.search(OUTSIDE_BMP) !== -1;

/** `text` without the characters API v3 refuses. */
export const withoutOutsideBmp = (text: string): string => text.replace(OUTSIDE_BMP, "");

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, on a character boundary (never half a CJK character,
 * which WeChat would reject as invalid UTF-8).
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= maxBytes) return text;
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
