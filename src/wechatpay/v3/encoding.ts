/**
 * Byte encodings the v3 protocol needs (base64 for signatures, ciphertexts and PEM bodies; UTF-8
 * for every signed message), written against Web APIs only so they run the same in workerd and Node.
 */

/** UTF-8 encoder shared by the v3 modules (every signed message and AES input is UTF-8 bytes). */
export const utf8 = new TextEncoder();

/**
 * Strict UTF-8 decoder: invalid bytes throw instead of turning into U+FFFD. A leading BOM (bill
 * files start with one) is dropped. Signatures are checked over the bytes, never over this text.
 */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Standard padded base64 → bytes, or null when `text` is not exactly that (whitespace, URL-safe
 * letters, missing padding, non-zero padding bits). Never throws: callers feed it untrusted header
 * values such as WeChat's `WECHATPAY/SIGNTEST/` probes, on which a bare `atob` throws.
 */
export function base64ToBytes(text: string): Uint8Array | null {
  if (typeof text !== "string" || !BASE64.test(text)) return null;
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  // atob ignores non-zero bits in the last character; the canonical form must round-trip.
  return bytesToBase64(bytes) === text ? bytes : null;
}

/** Bytes → standard padded base64 (what WeChat sends and expects). */
export function bytesToBase64(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (let i = 0; i < view.length; i += 0x8000) binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Bytes → hex in the given case (WeChat prints certificate serials upper case, SHA-1 digests lower case). */
export function bytesToHex(bytes: Uint8Array, upper = false): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return upper ? out.toUpperCase() : out;
}

/** The concatenation of byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
