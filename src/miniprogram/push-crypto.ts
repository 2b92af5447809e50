/**
 * Mini-program message push (消息推送) signatures and safe-mode encryption, as published on
 * https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html :
 *
 * - URL check and plain mode: `signature` = hex SHA-1 of [Token, timestamp, nonce] sorted and joined.
 * - Safe mode: `msg_signature` = hex SHA-1 of [Token, timestamp, nonce, Encrypt] sorted and joined;
 *   Encrypt = base64(AES-256-CBC(random(16) ‖ msg_len (4 bytes, big-endian) ‖ msg ‖ appid)), key =
 *   base64decode(EncodingAESKey + "="), iv = key[0..16], PKCS#7 padding to a multiple of 32 bytes.
 *
 * Pure and runtime-neutral: Web Crypto only. Web Crypto's AES-CBC insists on standard 16-byte-block
 * PKCS#7 padding, which WeChat's 32-byte variant is not (a pad of 17..32 makes `decrypt` throw), so
 * the cipher runs on raw blocks and the 32-byte padding is added and checked here (see
 * {@link cbcDecryptRaw}). Web Crypto rather than @noble/ciphers' `cbc` (already a dependency): the
 * AES is the runtime's native, constant-time one, and the bundle grows by this file alone (noble's
 * `cbc` would add about 1 KB minified on top of the `ecb` the Worker already has).
 */
import { timingSafeEqual } from "../wechatpay/sign";

/** Why a push was refused. Safe to log: no code or message carries key material or plaintext. */
export type PushCryptoErrorCode =
  | "BAD_SIGNATURE"
  | "BAD_KEY"
  | "BAD_BASE64"
  | "BAD_PADDING"
  | "BAD_LENGTH"
  | "APPID_MISMATCH"
  | "BAD_UTF8";

/** Thrown by the decrypting and encrypting functions of this module; `code` is the reason. */
export class PushCryptoError extends Error {
  override readonly name = "PushCryptoError";
  constructor(
    readonly code: PushCryptoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The message push settings of the mini program (管理后台 → 开发管理 → 消息推送配置). */
export interface PushCryptoConfig {
  /** Token (令牌). */
  token: string;
  /** EncodingAESKey: 43 base64 characters. */
  encodingAESKey: string;
  /** The mini program's appid; a decrypted message must name it. */
  appId: string;
}

/** What a signature covers: `encrypt` present → msg_signature (safe mode), absent → signature. */
export interface PushSignatureParts {
  token: string;
  timestamp: string;
  nonce: string;
  encrypt?: string;
}

const BLOCK = 16;
/** WeChat pads to multiples of 32 bytes (its PKCS#7 block size is the key length). */
const PAD_BLOCK = 32;
/** random(16) ‖ msg_len(4). */
const HEADER = 20;
const SHA1_HEX = /^[0-9a-fA-F]{40}$/;
const KEY_CHARS = /^[A-Za-z0-9+/]{43}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Lowercase hex SHA-1 of the parts sorted in plain code-unit order (what WeChat calls 字典序; every
 * part is ASCII) and concatenated: the URL check and plain-mode `signature` without `encrypt`, the
 * safe-mode `msg_signature` (and a reply's MsgSignature) with it.
 */
export async function pushSignature(parts: PushSignatureParts): Promise<string> {
  const list = [parts.token, parts.timestamp, parts.nonce];
  if (parts.encrypt !== undefined) list.push(parts.encrypt);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", encoder.encode(list.sort().join(""))));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks a `signature` (or, with `encrypt`, a `msg_signature`) in constant time. Returns false,
 * never throws, for a missing or malformed signature, a non-string part (a missing query
 * parameter), or an empty token (anyone could sign with it). Hex case is ignored.
 */
export async function verifyPushSignature(parts: PushSignatureParts, signature: unknown): Promise<boolean> {
  const { token, timestamp, nonce, encrypt } = parts;
  if (typeof signature !== "string" || !SHA1_HEX.test(signature)) return false;
  if (typeof token !== "string" || token === "" || typeof timestamp !== "string" || typeof nonce !== "string") return false;
  if (encrypt !== undefined && typeof encrypt !== "string") return false;
  return timingSafeEqual(signature.toLowerCase(), await pushSignature(parts));
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * The AES key: base64decode(EncodingAESKey + "="). WeChat's keys leave non-zero bits in the last
 * character's unused low bits (the classic sample ends in "C"), so only the length and the alphabet
 * are checked, not canonical form.
 */
async function aesKey(encodingAESKey: string): Promise<{ key: CryptoKey; iv: Uint8Array<ArrayBuffer> }> {
  if (typeof encodingAESKey !== "string" || !KEY_CHARS.test(encodingAESKey)) {
    throw new PushCryptoError("BAD_KEY", "EncodingAESKey must be 43 base64 characters");
  }
  const raw = fromBase64(`${encodingAESKey}=`);
  const key = await crypto.subtle.importKey("raw", raw, "AES-CBC", false, ["encrypt", "decrypt"]);
  return { key, iv: raw.slice(0, BLOCK) };
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/**
 * AES-CBC decryption that keeps every plaintext byte, padding included. Web Crypto strips (and
 * demands) standard PKCS#7, so one block is appended that decrypts to a full block of 0x10 for it
 * to strip: CBC decrypts that block as D(X) XOR (last ciphertext block), and X = E(last XOR 0x10…)
 * is exactly what encrypting an empty message with iv = last block gives.
 */
async function cbcDecryptRaw(key: CryptoKey, iv: Uint8Array<ArrayBuffer>, ciphertext: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const last = ciphertext.slice(ciphertext.length - BLOCK);
  const filler = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: last }, key, new Uint8Array(0)));
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv }, key, concat(ciphertext, filler)));
}

/**
 * Decrypts a safe-mode `Encrypt` and returns the message (a JSON or XML document, as configured).
 * Does NOT check msg_signature: call {@link openSafePush} for a push, so that nothing
 * unauthenticated reaches the cipher. Throws {@link PushCryptoError}: BAD_KEY, BAD_BASE64 (not
 * canonical base64), BAD_LENGTH (not a multiple of 32 bytes, or msg_len beyond the
 * plaintext), BAD_PADDING (wrong key or tampered), APPID_MISMATCH (the trailing appid is not
 * ours), BAD_UTF8 (the message is not UTF-8).
 */
export async function decryptPush(config: Pick<PushCryptoConfig, "encodingAESKey" | "appId">, encrypt: string): Promise<string> {
  const { key, iv } = await aesKey(config.encodingAESKey);
  if (typeof encrypt !== "string" || encrypt === "" || !BASE64.test(encrypt)) {
    throw new PushCryptoError("BAD_BASE64", "Encrypt is not base64");
  }
  const ciphertext = fromBase64(encrypt);
  if (toBase64(ciphertext) !== encrypt) throw new PushCryptoError("BAD_BASE64", "Encrypt is not canonical base64");
  if (ciphertext.length % PAD_BLOCK !== 0) throw new PushCryptoError("BAD_LENGTH", "Encrypt is not a multiple of 32 bytes");
  const plain = await cbcDecryptRaw(key, iv, ciphertext);

  // Every pad byte is compared (no early exit), like the refund-notify unpad.
  const pad = plain[plain.length - 1] ?? 0;
  let bad = pad < 1 || pad > PAD_BLOCK ? 1 : 0;
  for (let i = 1; i <= PAD_BLOCK; i++) if (i <= pad && plain[plain.length - i] !== pad) bad = 1;
  if (bad) throw new PushCryptoError("BAD_PADDING", "Encrypt padding is invalid (wrong key or tampered)");

  const body = plain.subarray(0, plain.length - pad);
  if (body.length < HEADER) throw new PushCryptoError("BAD_LENGTH", "Encrypt plaintext is too short");
  const msgLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(BLOCK);
  if (msgLength > body.length - HEADER) throw new PushCryptoError("BAD_LENGTH", "msg_len is beyond the plaintext");
  const appId = body.subarray(HEADER + msgLength);
  const ours = typeof config.appId === "string" ? encoder.encode(config.appId) : new Uint8Array(0);
  if (ours.length === 0 || appId.length !== ours.length || appId.some((b, i) => b !== ours[i])) {
    throw new PushCryptoError("APPID_MISMATCH", "the message is for another appid");
  }
  try {
    return decoder.decode(body.subarray(HEADER, HEADER + msgLength));
  } catch {
    throw new PushCryptoError("BAD_UTF8", "the message is not UTF-8");
  }
}

/**
 * The inverse of {@link decryptPush}: random(16) ‖ msg_len ‖ message (UTF-8) ‖ appid, padded to a
 * multiple of 32 bytes, AES-256-CBC, base64. `random` must be 16 bytes (callers use
 * `crypto.getRandomValues`; tests pass the published samples' random strings).
 */
export async function encryptPush(
  config: Pick<PushCryptoConfig, "encodingAESKey" | "appId">,
  message: string,
  random: Uint8Array,
): Promise<string> {
  const { key, iv } = await aesKey(config.encodingAESKey);
  if (!(random instanceof Uint8Array) || random.length !== BLOCK) throw new RangeError("random must be 16 bytes");
  const msg = encoder.encode(message);
  const appId = encoder.encode(config.appId);
  const length = HEADER + msg.length + appId.length;
  const pad = PAD_BLOCK - (length % PAD_BLOCK);
  const plain = new Uint8Array(length + pad).fill(pad);
  plain.set(random);
  new DataView(plain.buffer).setUint32(BLOCK, msg.length);
  plain.set(msg, HEADER);
  plain.set(appId, HEADER + msg.length);
  // Web Crypto appends one block of standard padding after ours; CBC is prefix-preserving, so
  // dropping that block leaves exactly the ciphertext of our 32-byte-padded plaintext.
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, plain));
  return toBase64(ciphertext.subarray(0, plain.length));
}

/**
 * A safe-mode push: checks `msg_signature` over [Token, timestamp, nonce, Encrypt] (BAD_SIGNATURE
 * when it does not match, or a query parameter is missing), then decrypts like {@link decryptPush}.
 * Returns the message. The plain `signature` WeChat also sends does not cover Encrypt and is not used.
 */
export async function openSafePush(
  config: PushCryptoConfig,
  push: { msgSignature: unknown; timestamp: unknown; nonce: unknown; encrypt: unknown },
): Promise<string> {
  const { msgSignature, timestamp, nonce, encrypt } = push;
  const signed =
    typeof timestamp === "string" &&
    typeof nonce === "string" &&
    typeof encrypt === "string" &&
    (await verifyPushSignature({ token: config.token, timestamp, nonce, encrypt }, msgSignature));
  if (!signed) throw new PushCryptoError("BAD_SIGNATURE", "msg_signature does not match");
  return decryptPush(config, encrypt);
}

/** A safe-mode reply body (JSON or XML with these four fields). */
export interface SealedReply {
  Encrypt: string;
  MsgSignature: string;
  TimeStamp: string;
  Nonce: string;
}

/**
 * Encrypts a reply and signs it: MsgSignature = SHA-1 of sorted [Token, TimeStamp, Nonce, Encrypt].
 * WeChat's sample echoes the push's nonce and uses the current time as TimeStamp.
 */
export async function sealReply(
  config: PushCryptoConfig,
  message: string,
  reply: { timestamp: string; nonce: string; random: Uint8Array },
): Promise<SealedReply> {
  const Encrypt = await encryptPush(config, message, reply.random);
  const MsgSignature = await pushSignature({ token: config.token, timestamp: reply.timestamp, nonce: reply.nonce, encrypt: Encrypt });
  return { Encrypt, MsgSignature, TimeStamp: reply.timestamp, Nonce: reply.nonce };
}
