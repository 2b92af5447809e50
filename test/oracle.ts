/**
 * The independent test oracle: WeChat Pay v2 signing and flat XML, written from WeChat's public
 * documentation and sharing no code with the Worker (src/ signs with spark-md5 and Web Crypto and
 * has its own XML reader) or with the simulator (sim/), so neither is ever checked against itself.
 *
 * It runs in Node (test/sim, test/e2e) and inside workerd (test/integration, where node:crypto comes
 * from nodejs_compat; test/integration/node-crypto.d.ts types the functions used here). Keep it to
 * node:crypto's hashes, AES and RSA-SHA256 and Web-standard APIs.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, createSign, createVerify } from "node:crypto";

export type SignType = "MD5" | "HMAC-SHA256";

/**
 * The official v2 sign (pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=4_3): every non-empty
 * field except `sign`, in ASCII key order, as `k=v` joined by `&`, then `&key=<API key>`; MD5, or
 * HMAC-SHA256 keyed with the API key; upper-case hex.
 */
export function signWechat(fields: Record<string, string | undefined>, key: string, type: SignType = "MD5"): string {
  const text =
    Object.keys(fields)
      .filter((k) => k !== "sign" && fields[k] !== "" && fields[k] !== undefined)
      .sort()
      .map((k) => `${k}=${fields[k]}`)
      .join("&") + `&key=${key}`;
  const digest = type === "HMAC-SHA256" ? createHmac("sha256", key).update(text, "utf8") : createHash("md5").update(text, "utf8");
  return digest.digest("hex").toUpperCase();
}

/** Flat `<xml>` with every value in CDATA, in the given field order. */
export function toXml(fields: Record<string, string>): string {
  return `<xml>${Object.entries(fields).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join("")}</xml>`;
}

/** `fields` plus their `sign`, as flat `<xml>` (what WeChat sends, or what a merchant sends WeChat). */
export function signedXml(fields: Record<string, string>, key: string, type: SignType = "MD5"): string {
  return toXml({ ...fields, sign: signWechat(fields, key, type) });
}

/**
 * A lenient flat-XML reader for replies and notifications: every `<name>text</name>` or
 * `<name><![CDATA[text]]></name>` becomes a field. It checks nothing (the code under test must).
 */
export function parseXml(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<([A-Za-z0-9_]+)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>/g)) out[m[1] as string] = (m[2] ?? m[3]) as string;
  return out;
}

/** The value of one field of a flat XML document (CDATA or plain), or undefined. */
export function xmlField(xml: string, name: string): string | undefined {
  const fields = parseXml(xml);
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** The refund notification's AES key: the lowercase hex MD5 of the API key, as 32 bytes of text. */
const reqInfoKey = (apiKey: string) => new TextEncoder().encode(createHash("md5").update(apiKey, "utf8").digest("hex"));

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * A refund notification's `req_info` (pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16):
 * base64 of AES-256-ECB with PKCS#7 padding, keyed with the MD5 hex of the API key.
 */
export function encryptReqInfo(plaintext: string, apiKey: string): string {
  const cipher = createCipheriv("aes-256-ecb", reqInfoKey(apiKey), null);
  return toBase64(concat(cipher.update(new TextEncoder().encode(plaintext)), cipher.final()));
}

/** The plaintext of a `req_info`, padding bytes kept (so block offsets stay visible to a test). */
export function decryptReqInfoBlocks(reqInfo: string, apiKey: string): string {
  const decipher = createDecipheriv("aes-256-ecb", reqInfoKey(apiKey), null).setAutoPadding(false);
  return new TextDecoder().decode(concat(decipher.update(fromBase64(reqInfo)), decipher.final()));
}

/** The decrypted `req_info` plaintext without its PKCS#7 padding. */
export function decryptReqInfo(reqInfo: string, apiKey: string): string {
  const padded = decryptReqInfoBlocks(reqInfo, apiKey);
  return padded.slice(0, padded.length - padded.charCodeAt(padded.length - 1));
}

/**
 * A mini-program message push signature (developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html):
 * SHA-1 hex of the parts (Token, timestamp, nonce and, in safe mode, Encrypt) sorted and joined.
 */
export function pushSignature(parts: readonly string[]): string {
  return createHash("sha1").update([...parts].sort().join(""), "utf8").digest("hex");
}

/** The AES-256-CBC key and iv of a message push: base64decode(EncodingAESKey + "="), iv = key[0..16]. */
const pushKey = (encodingAESKey: string) => {
  const key = fromBase64(`${encodingAESKey}=`);
  return { key, iv: key.slice(0, 16) };
};

/** AES-256-CBC of whole blocks with a push's key and iv, no padding added: for hand-made (hostile) plaintexts. */
export function pushEncryptBlocks(plain: Uint8Array, encodingAESKey: string): string {
  const { key, iv } = pushKey(encodingAESKey);
  const cipher = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
  return toBase64(concat(cipher.update(plain), cipher.final()));
}

/**
 * A safe-mode `Encrypt`: random(16) ‖ msg_len (uint32 big-endian) ‖ msg (UTF-8) ‖ appid, padded
 * PKCS#7-style to a multiple of 32 bytes (pad value 1..32), AES-256-CBC without Node's own padding.
 */
export function pushEncrypt(message: string, encodingAESKey: string, appId: string, random: Uint8Array): string {
  const msg = new TextEncoder().encode(message);
  const length = new Uint8Array([msg.length >>> 24, (msg.length >>> 16) & 255, (msg.length >>> 8) & 255, msg.length & 255]);
  const body = [random, length, msg, new TextEncoder().encode(appId)].reduce(concat);
  const pad = 32 - (body.length % 32);
  return pushEncryptBlocks(concat(body, new Uint8Array(pad).fill(pad)), encodingAESKey);
}

/** The parts of a decrypted `Encrypt`, padding unchecked and kept apart (the code under test must check it). */
export function pushDecrypt(encrypt: string, encodingAESKey: string): { random: Uint8Array; msg: string; appId: string; pad: number } {
  const { key, iv } = pushKey(encodingAESKey);
  const decipher = createDecipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
  const plain = concat(decipher.update(fromBase64(encrypt)), decipher.final());
  const pad = plain[plain.length - 1] as number;
  const length = new DataView(plain.buffer, plain.byteOffset).getUint32(16);
  const text = new TextDecoder();
  return { random: plain.slice(0, 16), msg: text.decode(plain.slice(20, 20 + length)), appId: text.decode(plain.slice(20 + length, plain.length - pad)), pad };
}

/**
 * WeChat Pay API v3's signature (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-generation.html):
 * base64 RSASSA-PKCS1-v1_5 with SHA-256 over the UTF-8 message, with a PKCS#8 private key.
 */
export function rsaSign(message: string, privateKeyPem: string): string {
  return createSign("RSA-SHA256").update(message, "utf8").sign(privateKeyPem, "base64");
}

/** Whether a v3 signature (base64) verifies over `message` with a public key or certificate PEM. */
export function rsaVerify(message: string, signature: string, publicKeyPem: string): boolean {
  return createVerify("RSA-SHA256").update(message, "utf8").verify(publicKeyPem, signature, "base64");
}

/**
 * A v3 notification resource (https://pay.weixin.qq.com/doc/v3/merchant/4012075420): AEAD_AES_256_GCM
 * with the APIv3 key's UTF-8 bytes, the nonce's bytes as IV, `associated_data` as AAD; the
 * ciphertext is base64(encrypted ‖ 16-byte tag).
 */
export function aesGcmEncrypt(plaintext: string, apiV3Key: string, nonce: string, associatedData: string): string {
  const enc = new TextEncoder();
  const cipher = createCipheriv("aes-256-gcm", enc.encode(apiV3Key), enc.encode(nonce)).setAAD(enc.encode(associatedData));
  const body = concat(cipher.update(enc.encode(plaintext)), cipher.final());
  return toBase64(concat(body, cipher.getAuthTag()));
}
