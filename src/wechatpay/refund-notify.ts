/**
 * Refund-notify `req_info` decryption (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16; why it is only a hint: docs/ARCHITECTURE.md): base64 → AES-256-ECB with
 * key = the 32 ASCII bytes of lowercase hex MD5(API key) → PKCS#7 → `<root>` XML. Web Crypto has no
 * ECB, so @noble/ciphers (audited, pure JS) does the block cipher; padding is checked here so that a
 * wrong key or a tampered ciphertext gets its own error code.
 *
 * The notification carries no signature: a successful decryption only proves the sender knew the
 * key-derived secret, and ECB blocks can be spliced, so callers must still match every field
 * against a refund they created.
 */
import { ecb } from "@noble/ciphers/aes.js";
import { md5Hex, type Fields } from "./sign";
import { readXml, XmlError } from "./xml";

/** Why a `req_info` was refused. */
export type RefundNotifyErrorCode = "BAD_BASE64" | "BAD_LENGTH" | "BAD_PADDING" | "BAD_XML";

/** Thrown by {@link decryptReqInfo}; messages never contain key material or plaintext. */
export class RefundNotifyError extends Error {
  /** Machine-readable reason; safe to log. */
  readonly code: RefundNotifyErrorCode;
  constructor(code: RefundNotifyErrorCode, message: string) {
    super(message);
    this.name = "RefundNotifyError";
    this.code = code;
  }
}

const BLOCK = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** AES-256 key: the UTF-8 (ASCII) bytes of the lowercase hex MD5 of the API key, used as-is. */
function aesKey(apiKey: string): Uint8Array {
  return encoder.encode(md5Hex(apiKey).toLowerCase());
}

/** Canonical base64 only: atob alone tolerates whitespace and non-zero padding bits. */
function decodeBase64Strict(s: string): Uint8Array {
  if (typeof s !== "string" || s === "" || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new RefundNotifyError("BAD_BASE64", "req_info is not valid base64");
  }
  let binary: string;
  try {
    binary = atob(s);
  } catch {
    throw new RefundNotifyError("BAD_BASE64", "req_info is not valid base64");
  }
  if (btoa(binary) !== s) throw new RefundNotifyError("BAD_BASE64", "req_info is not canonical base64");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Standard base64 of bytes, without Node's Buffer. */
function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Strips PKCS#7 padding after checking every pad byte (1..16 bytes, all equal to the count). */
function unpad(data: Uint8Array): Uint8Array {
  const pad = data[data.length - 1] ?? 0;
  let bad = pad < 1 || pad > BLOCK ? 1 : 0;
  for (let i = 1; i <= BLOCK; i++) {
    // Fixed 16-iteration loop: only bytes within the pad are compared, but the work is the same.
    const byte = data[data.length - i] ?? 0;
    if (i <= pad && byte !== pad) bad = 1;
  }
  if (bad) throw new RefundNotifyError("BAD_PADDING", "req_info padding is invalid (wrong key or tampered)");
  return data.subarray(0, data.length - pad);
}

/**
 * Decrypts a refund notification's `req_info` into its `<root>` fields, read with the hardened
 * reader ({@link readXml} with root "root"). Throws {@link RefundNotifyError}: BAD_BASE64 (empty or
 * not canonical base64), BAD_LENGTH (not a positive multiple of 16 bytes), BAD_PADDING (wrong key or
 * tampered), BAD_XML (plaintext not UTF-8 or not an acceptable document, e.g. a DOCTYPE).
 */
export function decryptReqInfo(reqInfo: string, apiKey: string): Fields {
  const ciphertext = decodeBase64Strict(reqInfo);
  if (ciphertext.length === 0 || ciphertext.length % BLOCK !== 0) {
    throw new RefundNotifyError("BAD_LENGTH", "req_info length is not a multiple of 16 bytes");
  }
  const padded = ecb(aesKey(apiKey), { disablePadding: true }).decrypt(ciphertext);
  const plain = unpad(padded);
  let text: string;
  try {
    text = decoder.decode(plain);
  } catch {
    throw new RefundNotifyError("BAD_XML", "req_info plaintext is not UTF-8");
  }
  try {
    return readXml(text, { root: "root" });
  } catch (err) {
    if (err instanceof XmlError) throw new RefundNotifyError("BAD_XML", `req_info plaintext refused (${err.code})`);
    throw err;
  }
}

/**
 * The inverse of {@link decryptReqInfo}: PKCS#7-pads and encrypts `plaintextXml` (UTF-8) with the
 * key derived from `apiKey`, returning base64. For tests, benchmarks and the simulator.
 */
export function encryptReqInfo(plaintextXml: string, apiKey: string): string {
  const ciphertext = ecb(aesKey(apiKey)).encrypt(encoder.encode(plaintextXml));
  return encodeBase64(ciphertext);
}
