/**
 * The reply of `GET /v3/certificates` (platform-certificate mode only;
 * https://pay.weixin.qq.com/doc/v3/partner/4013059030): each entry's certificate is AES-GCM
 * encrypted with the APIv3 key. Decrypting it proves the reply came from someone who knows that key;
 * reading it with the DER reader gives the serial (which must equal `serial_no`), the validity and
 * the public key.
 *
 * Merchants created since public-key mode exists have no platform certificates: WeChat answers
 * this call with RESOURCE_NOT_EXISTS and they configure the public key instead.
 */
import { decryptResource, type EncryptedResource } from "./aead";
import { isJsonObject, ModelError, parseJsonObject } from "./models";
import { importSpki, readCertificatePem, V3KeyError } from "./pem";
import { parseRfc3339 } from "../time";

/** One platform certificate, decrypted and read. */
export interface PlatformCertificate {
  /** Upper-case hex: the `Wechatpay-Serial` that selects it. */
  serialNo: string;
  /** The certificate as PEM (what to cache, e.g. in KV). */
  pem: string;
  /** WeChat's `effective_time` / `expire_time` (use the certificate only between them). */
  effectiveTime: Date;
  expireTime: Date;
  /** The certificate's own validity. */
  notBefore: Date;
  notAfter: Date;
  publicKey: CryptoKey;
}

export type CertificatesResult =
  | { ok: true; certificates: PlatformCertificate[] }
  | { ok: false; reason: "malformed" | "decrypt_failed"; message: string };

/**
 * Decrypts and reads every certificate in a /v3/certificates reply body. The signature of the
 * reply itself is the caller's to check (with these certificates added to its trust store: the
 * first download cannot be verified with anything else). A bad APIv3 key throws V3KeyError.
 */
export async function readCertificatesReply(body: string, apiV3Key: string): Promise<CertificatesResult> {
  let data: unknown;
  try {
    data = parseJsonObject(body, "certificates reply").data;
  } catch (err) {
    if (err instanceof ModelError) return { ok: false, reason: "malformed", message: err.message };
    throw err;
  }
  if (!Array.isArray(data) || data.length === 0) return { ok: false, reason: "malformed", message: "data must be a non-empty array" };
  const certificates: PlatformCertificate[] = [];
  for (const entry of data) {
    if (!isJsonObject(entry) || typeof entry.serial_no !== "string" || !isJsonObject(entry.encrypt_certificate)) {
      return { ok: false, reason: "malformed", message: "each entry needs serial_no and encrypt_certificate" };
    }
    let effectiveTime: Date;
    let expireTime: Date;
    try {
      effectiveTime = parseRfc3339(entry.effective_time as string);
      expireTime = parseRfc3339(entry.expire_time as string);
    } catch {
      return { ok: false, reason: "malformed", message: "effective_time and expire_time must be RFC 3339 times" };
    }
    const opened = await decryptResource(entry.encrypt_certificate as unknown as EncryptedResource, apiV3Key);
    if (!opened.ok) return { ok: false, reason: "decrypt_failed", message: opened.message };
    try {
      const fields = readCertificatePem(opened.plaintext);
      if (fields.serialHex !== entry.serial_no) {
        return { ok: false, reason: "malformed", message: "the certificate's serial differs from serial_no" };
      }
      certificates.push({
        serialNo: fields.serialHex,
        pem: opened.plaintext,
        effectiveTime,
        expireTime,
        notBefore: fields.notBefore,
        notAfter: fields.notAfter,
        publicKey: await importSpki(fields.spki),
      });
    } catch (err) {
      if (err instanceof V3KeyError) return { ok: false, reason: "malformed", message: err.message };
      throw err;
    }
  }
  return { ok: true, certificates };
}
