// The mini-program message-push crypto, as WeChat's message-push documentation describes it
// (developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html, "安全模式"):
//   signature     = hex SHA-1 of the sorted [Token, timestamp, nonce] concatenated
//   msg_signature = hex SHA-1 of the sorted [Token, timestamp, nonce, Encrypt] concatenated
//   Encrypt       = base64(AES-256-CBC(key, iv = key[0..16], PKCS#7 to a multiple of 32,
//                   random(16) ‖ msg_len (4 bytes, big-endian) ‖ msg ‖ appid)),
//   key           = base64decode(EncodingAESKey + "=")  (43 characters → 32 bytes).
// node:crypto only: the simulator must not share this code with the Worker it tests.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** WeChat pads to a multiple of the key size (32), not of the AES block size (16). */
const PAD_TO = 32;

/** Hex SHA-1 of the parts sorted (JavaScript string order = byte order for ASCII) and concatenated. */
export function pushSignature(...parts: string[]): string {
  return createHash("sha1").update([...parts].sort().join(""), "utf8").digest("hex");
}

/** An EncodingAESKey is 43 characters of base64 that decode (with one "=") to exactly 32 bytes. */
export function isEncodingAesKey(v: unknown): v is string {
  return typeof v === "string" && /^[A-Za-z0-9+/]{43}$/.test(v) && Buffer.from(v + "=", "base64").length === 32;
}

/** The 32-byte AES key of an EncodingAESKey; throws on anything else. */
export function pushAesKey(encodingAesKey: string): Buffer {
  if (!isEncodingAesKey(encodingAesKey)) throw new Error("EncodingAESKey must be 43 base64 characters");
  return Buffer.from(encodingAesKey + "=", "base64");
}

/**
 * Encrypt a push message for the safe mode. `random16` is the 16-byte prefix (random by default;
 * fixed only to reproduce published vectors).
 */
export function encryptPush(msg: string, appId: string, encodingAesKey: string, random16: Buffer = randomBytes(16)): string {
  if (random16.length !== 16) throw new Error("the random prefix must be 16 bytes");
  const key = pushAesKey(encodingAesKey);
  const body = Buffer.from(msg, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const full = Buffer.concat([random16, len, body, Buffer.from(appId, "utf8")]);
  const n = PAD_TO - (full.length % PAD_TO);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([full, Buffer.alloc(n, n)])), cipher.final()]).toString("base64");
}

/** Decrypt an Encrypt value: the message and the appid it ends with (throws when malformed). */
export function decryptPush(encrypt: string, encodingAesKey: string): { msg: string; appId: string; random: Buffer } {
  const key = pushAesKey(encodingAesKey);
  const data = Buffer.from(encrypt, "base64");
  if (data.length === 0 || data.length % 16 !== 0) throw new Error("ciphertext is not a whole number of AES blocks");
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const full = Buffer.concat([decipher.update(data), decipher.final()]);
  const n = full[full.length - 1] as number;
  if (n < 1 || n > PAD_TO || n > full.length) throw new Error("bad PKCS#7 padding");
  const plain = full.subarray(0, full.length - n);
  if (plain.length < 20) throw new Error("message too short");
  const len = plain.readUInt32BE(16);
  if (20 + len > plain.length) throw new Error("msg_len beyond the message");
  return { random: plain.subarray(0, 16), msg: plain.subarray(20, 20 + len).toString("utf8"), appId: plain.subarray(20 + len).toString("utf8") };
}
