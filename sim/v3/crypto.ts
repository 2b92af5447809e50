// The WeChat Pay API v3 primitives, on node:crypto only (the simulator is a test peer and shares no code
// with the Worker's Web Crypto implementation, so a bug in one is caught by the other):
// - SHA256-RSA2048 = RSASSA-PKCS1-v1_5 with SHA-256, base64 (signature generation and verification:
//   https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-generation.html and
//   https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-verification.html);
// - AEAD_AES_256_GCM with the APIv3 key, a UTF-8 nonce and associated data (callback resources and
//   /v3/certificates: https://pay.weixin.qq.com/docs/partner/apis/partner-native-payment/payment-notice.html);
// - the X.509 serial and validity of a certificate.
import { X509Certificate, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, randomBytes, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";

/** The one signature scheme v3 uses (Authorization scheme, Wechatpay-Signature-Type). */
export const SCHEME = "WECHATPAY2-SHA256-RSA2048";

/** The request signature message: five lines, each ending in "\n" (the body line too, even when empty). */
export function requestMessage(method: string, canonicalUrl: string, timestamp: string, nonce: string, body: string): string {
  return `${method}\n${canonicalUrl}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** The response / callback signature message: timestamp, nonce and the raw body, each line ending in "\n". */
export function responseMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

/** The mini-program paySign message: appId, timeStamp, nonceStr, package, each line ending in "\n". */
export function paySignMessage(appId: string, timeStamp: string, nonceStr: string, pkg: string): string {
  return `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
}

/** base64(RSASSA-PKCS1-v1_5(SHA-256, key, message)); deterministic, so tests can pin exact values. */
export function signRsa(message: string | Uint8Array, key: KeyObject): string {
  return sign("sha256", typeof message === "string" ? Buffer.from(message, "utf8") : message, key).toString("base64");
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Does `signature` (base64) verify over `message` with `key`? Never throws: a value that is not strict
 * base64 of the key's modulus length (a WECHATPAY/SIGNTEST/ probe, a truncated value) is simply false.
 */
export function verifyRsa(message: string | Uint8Array, signature: string, key: KeyObject): boolean {
  if (!BASE64.test(signature) || signature.length % 4 !== 0) return false;
  const bytes = Buffer.from(signature, "base64");
  const modulusBits = key.asymmetricKeyDetails?.modulusLength ?? 2048;
  if (bytes.length !== Math.ceil(modulusBits / 8)) return false;
  try {
    return verify("sha256", typeof message === "string" ? Buffer.from(message, "utf8") : message, key, bytes);
  } catch {
    return false;
  }
}

/** AEAD_AES_256_GCM encryption: base64(ciphertext ‖ 16-byte tag). Key, nonce and associated data are UTF-8. */
export function aeadEncrypt(apiV3Key: string, nonce: string, associatedData: string, plaintext: string): string {
  const c = createCipheriv("aes-256-gcm", Buffer.from(apiV3Key, "utf8"), Buffer.from(nonce, "utf8"));
  c.setAAD(Buffer.from(associatedData, "utf8"));
  const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
  return Buffer.concat([ct, c.getAuthTag()]).toString("base64");
}

/** AEAD_AES_256_GCM decryption of base64(ciphertext ‖ tag); throws when the tag does not verify. */
export function aeadDecrypt(apiV3Key: string, nonce: string, associatedData: string, ciphertext: string): string {
  const all = Buffer.from(ciphertext, "base64");
  if (all.length < 16) throw new Error("ciphertext shorter than the 16-byte tag");
  const d = createDecipheriv("aes-256-gcm", Buffer.from(apiV3Key, "utf8"), Buffer.from(nonce, "utf8"));
  d.setAAD(Buffer.from(associatedData, "utf8"));
  d.setAuthTag(all.subarray(all.length - 16));
  return Buffer.concat([d.update(all.subarray(0, all.length - 16)), d.final()]).toString("utf8");
}

/** A private key from PEM (PKCS#8 or PKCS#1); the "TESTING KEY" label of test keys is read as "PRIVATE KEY". */
export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem.replace(/-----(BEGIN|END) TESTING KEY-----/g, "-----$1 PRIVATE KEY-----"));
}

/** A public key from an SPKI PEM, a certificate PEM or a private key PEM (its public half). */
export function publicKeyFromPem(pem: string): KeyObject {
  if (pem.includes("CERTIFICATE")) return new X509Certificate(pem).publicKey;
  if (pem.includes("PRIVATE KEY") || pem.includes("TESTING KEY")) return createPublicKey(privateKeyFromPem(pem));
  return createPublicKey(pem);
}

/** What the simulator needs from an X.509 certificate. */
export interface CertificateInfo {
  /** upper-case hex, no separators or leading zero byte (as WeChat writes serial_no) */
  serial: string;
  publicKey: KeyObject;
  notBefore: number;
  notAfter: number;
  pem: string;
}

/** Reads a certificate PEM: serial, public key, validity (epoch ms). Throws when it does not parse. */
export function certificateInfo(pem: string): CertificateInfo {
  const c = new X509Certificate(pem);
  return { serial: c.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, ""), publicKey: c.publicKey, notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo), pem: c.toString() };
}

/** Do a private and a public key form one pair? (Signs a probe message and verifies it.) */
export function isKeyPair(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const probe = randomBytes(32);
  return verifyRsa(probe, signRsa(probe, privateKey), publicKey);
}

const NONCE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A random nonce of `length` characters from [0-9A-Za-z] (12 for AES-GCM, 32 for signatures). */
export function v3Nonce(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += NONCE_ALPHABET[b % NONCE_ALPHABET.length];
  return out;
}
