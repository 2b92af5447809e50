/**
 * The merchant's and WeChat Pay's RSA keys, from the PEM text a merchant downloads from the merchant
 * platform (https://pay.weixin.qq.com/doc/v3/merchant/4012154180) to Web Crypto keys:
 * - the merchant API private key `apiclient_key.pem`: PKCS#8 (`BEGIN PRIVATE KEY`), signs requests and paySign;
 * - the WeChat Pay public key `pub_key.pem`: SPKI (`BEGIN PUBLIC KEY`), verifies responses and callbacks;
 * - a platform certificate (`BEGIN CERTIFICATE`): its SPKI is read with the DER reader (der.ts),
 *   because Web Crypto cannot import a certificate.
 *
 * The synchronous `parse…` functions let configuration checks name a bad key before any request;
 * the `import…` functions do the same checks, then import once per isolate (key-cache.ts).
 */
import { DerError, readCertificate, readChildren, readTlv, TAG, type CertificateFields } from "./der";
import { base64ToBytes } from "./encoding";
import { KeyCache } from "./key-cache";

/** Why a key was refused. */
export type KeyErrorCode =
  | "NOT_PEM"
  | "PKCS1_PRIVATE_KEY"
  | "ENCRYPTED_PRIVATE_KEY"
  | "WRONG_PEM_TYPE"
  | "BAD_KEY"
  | "BAD_CERTIFICATE"
  | "BAD_APIV3_KEY";

/** A configuration problem with a key. Messages never contain key material. */
export class V3KeyError extends Error {
  constructor(readonly code: KeyErrorCode, message: string) {
    super(message);
    this.name = "V3KeyError";
  }
}

/** RSASSA-PKCS1-v1_5 with SHA-256: the only v3 signature suite this service implements (WECHATPAY2-SHA256-RSA2048). */
export const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** The command that turns a PKCS#1 `apiclient_key.pem` into the PKCS#8 form Web Crypto imports. */
export const PKCS1_TO_PKCS8 = "openssl pkcs8 -topk8 -nocrypt -in apiclient_key.pem -out apiclient_key.pkcs8.pem";

/** One PEM block: its label (`PRIVATE KEY`, `PUBLIC KEY`, `CERTIFICATE`, …) and its DER bytes. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/**
 * The first PEM block in `text`. Tolerates CRLF, surrounding text (openssl's "Bag Attributes") and
 * a secret pasted with literal `\n` escapes instead of line breaks, a common way a multi-line
 * value ends up in an environment variable.
 */
export function readPem(text: string): PemBlock {
  if (typeof text !== "string") throw new V3KeyError("NOT_PEM", "the key is not text");
  const normalised = text.includes("\n") ? text : text.replace(/\\r\\n|\\n/g, "\n");
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/.exec(normalised);
  if (!m) throw new V3KeyError("NOT_PEM", "not a PEM block (expected -----BEGIN …----- … -----END …-----)");
  const [, label, body, endLabel] = m as unknown as [string, string, string, string];
  if (label !== endLabel) throw new V3KeyError("NOT_PEM", `PEM block begins with ${label} but ends with ${endLabel}`);
  const der = base64ToBytes(body.replace(/\s+/g, ""));
  if (der === null || der.length === 0) throw new V3KeyError("NOT_PEM", `the ${label} PEM body is not valid base64`);
  return { label, der };
}

/**
 * The PKCS#8 DER of the merchant API private key, checked for shape (PrivateKeyInfo ::= SEQUENCE
 * { version INTEGER, algorithm SEQUENCE, privateKey OCTET STRING, … }). A PKCS#1 key
 * (`BEGIN RSA PRIVATE KEY`, older tools and some merchant-platform downloads) gets a message with
 * the conversion command: Web Crypto imports PKCS#8 only.
 */
export function parsePrivateKeyPem(pem: string): Uint8Array {
  const { label, der } = readPem(pem);
  if (label === "RSA PRIVATE KEY") {
    throw new V3KeyError(
      "PKCS1_PRIVATE_KEY",
      `the private key is PKCS#1 (BEGIN RSA PRIVATE KEY); Web Crypto needs PKCS#8 (BEGIN PRIVATE KEY): convert it with \`${PKCS1_TO_PKCS8}\``,
    );
  }
  if (label === "ENCRYPTED PRIVATE KEY") {
    throw new V3KeyError("ENCRYPTED_PRIVATE_KEY", `the private key is password-protected; export it unencrypted with \`${PKCS1_TO_PKCS8}\``);
  }
  if (label !== "PRIVATE KEY") throw new V3KeyError("WRONG_PEM_TYPE", `expected a PRIVATE KEY (apiclient_key.pem), got a ${label}`);
  try {
    const info = readTlv(der, 0);
    const [version, algorithm, key] = info.tag === TAG.SEQUENCE && info.end === der.length ? readChildren(der, info) : [];
    if (version?.tag !== TAG.INTEGER || algorithm?.tag !== TAG.SEQUENCE || key?.tag !== TAG.OCTET_STRING) {
      throw new DerError("not a PrivateKeyInfo");
    }
  } catch (err) {
    if (err instanceof DerError) throw new V3KeyError("BAD_KEY", `the private key is not PKCS#8 (${err.message})`);
    throw err;
  }
  return der;
}

/** A public key as configured: the SPKI, plus the certificate's fields when it came as a certificate. */
export interface ParsedPublicKey {
  spki: Uint8Array;
  certificate?: CertificateFields;
}

/**
 * The SPKI of the WeChat Pay public key (`pub_key.pem`, `BEGIN PUBLIC KEY`) or of a platform
 * certificate (`BEGIN CERTIFICATE`, read with the DER reader).
 */
export function parsePublicKeyPem(pem: string): ParsedPublicKey {
  const { label, der } = readPem(pem);
  if (label === "CERTIFICATE") {
    const certificate = readCertificateDer(der);
    return { spki: certificate.spki, certificate };
  }
  if (label !== "PUBLIC KEY") {
    throw new V3KeyError("WRONG_PEM_TYPE", `expected a PUBLIC KEY (pub_key.pem) or a CERTIFICATE, got a ${label}`);
  }
  try {
    const info = readTlv(der, 0);
    const [algorithm, bits] = info.tag === TAG.SEQUENCE && info.end === der.length ? readChildren(der, info) : [];
    if (algorithm?.tag !== TAG.SEQUENCE || bits?.tag !== TAG.BIT_STRING) throw new DerError("not a SubjectPublicKeyInfo");
  } catch (err) {
    if (err instanceof DerError) throw new V3KeyError("BAD_KEY", `the public key is not an SPKI (${err.message})`);
    throw err;
  }
  return { spki: der };
}

/** A certificate's fields from its DER, with DER problems reported as a key problem. */
function readCertificateDer(der: Uint8Array): CertificateFields {
  try {
    return readCertificate(der);
  } catch (err) {
    if (err instanceof DerError) throw new V3KeyError("BAD_CERTIFICATE", `the certificate cannot be read (${err.message})`);
    throw err;
  }
}

/** A certificate's fields from its PEM (`BEGIN CERTIFICATE`). */
export function readCertificatePem(pem: string): CertificateFields {
  const { label, der } = readPem(pem);
  if (label !== "CERTIFICATE") throw new V3KeyError("WRONG_PEM_TYPE", `expected a CERTIFICATE, got a ${label}`);
  return readCertificateDer(der);
}

const privateKeys = new KeyCache();
const publicKeys = new KeyCache(32); // platform certificates rotate, and two overlap during a rotation

/** Web Crypto's refusal as a typed key problem (its own message may be vague, never secret). */
async function importOrExplain(what: string, run: () => Promise<CryptoKey>): Promise<CryptoKey> {
  try {
    return await run();
  } catch (err) {
    throw new V3KeyError("BAD_KEY", `Web Crypto refused the ${what} (${err instanceof Error ? err.name : "error"}); it must be an RSA key`);
  }
}

/**
 * The merchant API private key for signing, imported once per isolate per PEM text. Rejects with
 * V3KeyError (PKCS#1, encrypted, not PEM, not RSA).
 */
export function importMerchantPrivateKey(pem: string): Promise<CryptoKey> {
  return privateKeys.get(pem, () => {
    const der = parsePrivateKeyPem(pem);
    return importOrExplain("private key", () => crypto.subtle.importKey("pkcs8", der, RSA_SHA256, false, ["sign"]));
  });
}

/**
 * A WeChat Pay verification key (public key PEM or platform certificate PEM), imported once per
 * isolate per PEM text. Rejects with V3KeyError.
 */
export function importWechatPayPublicKey(pem: string): Promise<CryptoKey> {
  return publicKeys.get(pem, () => importSpki(parsePublicKeyPem(pem).spki));
}

/** An SPKI (e.g. from a downloaded platform certificate) as a verification key. Rejects with V3KeyError. */
export function importSpki(spki: Uint8Array): Promise<CryptoKey> {
  return importOrExplain("public key", () => crypto.subtle.importKey("spki", spki, RSA_SHA256, false, ["verify"]));
}

/**
 * Checks the APIv3 key: exactly 32 printable ASCII characters (it is the AES-256 key as its UTF-8
 * bytes, so any other length would silently mean AES-128/192 or fail). That it differs from the v2
 * API key is the caller's check: a v2 key there shows up only as failed decryptions.
 */
export function checkApiV3Key(key: string): void {
  if (typeof key !== "string" || !/^[\x21-\x7e]{32}$/.test(key)) {
    throw new V3KeyError("BAD_APIV3_KEY", "the APIv3 key must be exactly 32 printable ASCII characters (merchant platform → API security → APIv3 key)");
  }
}
