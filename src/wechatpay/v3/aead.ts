/**
 * AEAD_AES_256_GCM, the encryption of callback resources and of /v3/certificates entries
 * (https://pay.weixin.qq.com/docs/merchant/apis/h5-payment/payment-notice.html): key = the APIv3 key
 * as its 32 UTF-8 bytes, iv = `nonce` as UTF-8, additional data = `associated_data` as UTF-8 (may be
 * empty), ciphertext = base64(encrypted ‖ 16-byte tag), exactly what Web Crypto's AES-GCM takes.
 *
 * A wrong key (often the v2 API key pasted as the APIv3 key), a changed associated_data or nonce, or
 * a tampered tag all surface as `auth_failed`: GCM cannot tell them apart, and need not.
 */
import { base64ToBytes, strictUtf8, utf8 } from "./encoding";
import { KeyCache } from "./key-cache";
import { checkApiV3Key } from "./pem";

/** The only algorithm WeChat uses for these resources. */
const AEAD_ALGORITHM = "AEAD_AES_256_GCM";

/** An encrypted resource as WeChat sends it (callback `resource`, certificate `encrypt_certificate`). */
export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  nonce: string;
  /** May be absent or empty. */
  associated_data?: string;
}

/** Why a resource did not decrypt. */
export type DecryptFailureReason = "unsupported_algorithm" | "malformed" | "auth_failed";

export type DecryptResult = { ok: true; plaintext: string } | { ok: false; reason: DecryptFailureReason; message: string };

const TAG_BYTES = 16;
const aesKeys = new KeyCache();

/**
 * Decrypts a resource with the merchant's APIv3 key. The key must be 32 characters (AES-256):
 * throws V3KeyError otherwise, a configuration problem rather than a property of the message.
 * Everything about the resource is untrusted and answered with a DecryptResult.
 */
export async function decryptResource(resource: EncryptedResource, apiV3Key: string): Promise<DecryptResult> {
  checkApiV3Key(apiV3Key);
  if (resource.algorithm !== AEAD_ALGORITHM) {
    return { ok: false, reason: "unsupported_algorithm", message: "resource algorithm is not AEAD_AES_256_GCM" };
  }
  return openAesGcm(apiV3Key, resource.nonce, resource.associated_data ?? "", resource.ciphertext);
}

/**
 * AES-GCM open with a key given as text, of any AES length (16, 24 or 32 bytes). Production goes
 * through {@link decryptResource}, which insists on 32; this is the primitive the peer SDKs'
 * 16-byte-key test vectors can be checked with.
 */
export async function openAesGcm(keyText: string, nonce: string, associatedData: string, ciphertextBase64: string): Promise<DecryptResult> {
  if (typeof nonce !== "string" || nonce === "" || typeof associatedData !== "string" || typeof ciphertextBase64 !== "string") {
    return { ok: false, reason: "malformed", message: "nonce, associated_data and ciphertext must be strings (nonce non-empty)" };
  }
  const sealed = base64ToBytes(ciphertextBase64);
  if (sealed === null || sealed.length < TAG_BYTES) {
    return { ok: false, reason: "malformed", message: "ciphertext is not base64 of at least the 16-byte tag" };
  }
  const key = await aesKeys.get(keyText, () => crypto.subtle.importKey("raw", utf8.encode(keyText), "AES-GCM", false, ["decrypt"]));
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: utf8.encode(nonce), additionalData: utf8.encode(associatedData), tagLength: 128 },
      key,
      sealed,
    );
  } catch {
    return { ok: false, reason: "auth_failed", message: "AES-GCM tag check failed (wrong APIv3 key, nonce, associated_data or ciphertext)" };
  }
  try {
    return { ok: true, plaintext: strictUtf8.decode(plain) };
  } catch {
    return { ok: false, reason: "malformed", message: "plaintext is not UTF-8" };
  }
}
