/**
 * Verification of WeChat Pay v3 responses and callbacks
 * (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-verification.html):
 * `Wechatpay-Signature` is RSASSA-PKCS1-v1_5-SHA256 over `Wechatpay-Timestamp\nWechatpay-Nonce\nBODY\n`,
 * by the key that `Wechatpay-Serial` names, over the RAW body: verify before anything parses it, since
 * a re-serialised body no longer matches.
 *
 * Untrusted input never throws here: every outcome is a {@link VerifyResult}.
 */
import { base64ToBytes, concatBytes, utf8 } from "./encoding";
import { RSA_SHA256 } from "./pem";
import { AUTH_SCHEME } from "./sign";

/**
 * WeChat Pay verification keys by the exact `Wechatpay-Serial` value that selects them: a public-key
 * id (`PUB_KEY_ID_…`) and/or platform-certificate serials (upper-case hex). During a migration from
 * certificates to the public key both kinds are present at once, and WeChat picks per message.
 */
export type TrustStore = ReadonlyMap<string, CryptoKey>;

/** Why a signature was not accepted. */
export type VerifyFailureReason =
  /** No signature headers at all (on a 2xx: forged or stripped by a proxy). */
  | "unsigned"
  /** Timestamp more than 5 minutes from our clock, either way (replay protection). */
  | "stale"
  /** `Wechatpay-Serial` names no key we trust (see {@link isPublicKeyId} for what to do). */
  | "unknown_serial"
  /** WeChat's deliberate wrong signature (`WECHATPAY/SIGNTEST/…`), sent to check that merchants verify. */
  | "probe"
  /** Well-formed but does not verify: edited or re-serialised body, wrong key. */
  | "bad_signature"
  /** Headers present but unusable: partial set, non-numeric timestamp, not base64, other signature type. */
  | "malformed";

/** The outcome of a verification. `serial` is the header value when there was one (for logs and refreshes). */
export type VerifyResult =
  | { ok: true; serial: string; timestamp: number }
  | { ok: false; reason: VerifyFailureReason; serial?: string; message: string };

/** The replay window of the official SDKs: 5 minutes either side of our clock. */
const MAX_CLOCK_SKEW_SECONDS = 300;

/** The prefix of WeChat's signature-probe values (https://pay.weixin.qq.com/doc/v3/merchant/4013053420). */
const PROBE_PREFIX = "WECHATPAY/SIGNTEST/";

/**
 * Whether a `Wechatpay-Serial` is a WeChat Pay public-key id (`PUB_KEY_ID_…`) rather than a
 * platform-certificate serial. It decides what an unknown serial means: an unknown certificate
 * serial calls for refreshing /v3/certificates once; an unknown public-key id cannot be fetched and
 * is a configuration problem. Never parse the id; compare it as a string.
 */
export function isPublicKeyId(serial: string): boolean {
  return serial.startsWith("PUB_KEY_ID_");
}

/** The four signature headers as sent (header names are case-insensitive; Headers handles that). */
export interface SignatureHeaders {
  timestamp: string;
  nonce: string;
  signature: string;
  serial: string;
  /** `Wechatpay-Signature-Type`, when present. */
  signatureType: string | null;
}

/** Reads the signature headers; null when none of the four is present (an unsigned message). */
export function readSignatureHeaders(headers: Headers): Partial<SignatureHeaders> | null {
  const timestamp = headers.get("wechatpay-timestamp");
  const nonce = headers.get("wechatpay-nonce");
  const signature = headers.get("wechatpay-signature");
  const serial = headers.get("wechatpay-serial");
  if (timestamp === null && nonce === null && signature === null && serial === null) return null;
  return {
    timestamp: timestamp ?? undefined,
    nonce: nonce ?? undefined,
    signature: signature ?? undefined,
    serial: serial ?? undefined,
    signatureType: headers.get("wechatpay-signature-type"),
  };
}

/** What to verify: the message's headers and its raw body, against a trust store, at a given time. */
export interface VerifyInput {
  headers: Headers;
  /** The raw body: the bytes as received, or their text read once with `text()`. */
  body: string | Uint8Array;
  trust: TrustStore;
  /** Our clock (injectable for tests). */
  now: Date;
}

const NEWLINE = utf8.encode("\n");

const fail = (reason: VerifyFailureReason, message: string, serial?: string): VerifyResult =>
  serial === undefined ? { ok: false, reason, message } : { ok: false, reason, serial, message };

/**
 * Verifies a response or callback. Checks, in order: headers present (else `unsigned`), all four
 * present and the type ours (else `malformed`), not a probe, the timestamp within 5 minutes, the
 * serial known (exact match, no case folding), the signature valid base64 of the key's length and
 * verifying over `timestamp\nnonce\nbody\n`.
 */
export async function verifySignature(input: VerifyInput): Promise<VerifyResult> {
  const h = readSignatureHeaders(input.headers);
  if (h === null) return fail("unsigned", "no Wechatpay-Signature headers");
  const { timestamp, nonce, signature, serial } = h;
  if (timestamp === undefined || nonce === undefined || signature === undefined || serial === undefined) {
    return fail("malformed", "some Wechatpay-Timestamp/-Nonce/-Signature/-Serial headers are missing", serial);
  }
  if (h.signatureType !== null && h.signatureType !== undefined && h.signatureType !== AUTH_SCHEME) {
    return fail("malformed", "unsupported Wechatpay-Signature-Type", serial);
  }
  if (signature.startsWith(PROBE_PREFIX)) return fail("probe", "WeChat signature probe (WECHATPAY/SIGNTEST/)", serial);
  if (!/^\d{1,12}$/.test(timestamp)) return fail("malformed", "Wechatpay-Timestamp is not Unix seconds", serial);
  if (nonce === "" || /[\r\n]/.test(nonce)) return fail("malformed", "Wechatpay-Nonce is empty or has a line break", serial);
  const seconds = Number(timestamp);
  if (Math.abs(input.now.getTime() / 1000 - seconds) > MAX_CLOCK_SKEW_SECONDS) {
    return fail("stale", "Wechatpay-Timestamp is more than 5 minutes from our clock", serial);
  }
  const key = input.trust.get(serial);
  if (key === undefined) return fail("unknown_serial", "Wechatpay-Serial names no trusted key", serial);

  const signatureBytes = base64ToBytes(signature);
  if (signatureBytes === null || signatureBytes.length === 0) return fail("malformed", "Wechatpay-Signature is not base64", serial);
  // An RSA signature is exactly as long as the modulus; anything else cannot verify (and some
  // runtimes throw on it rather than answer false).
  const modulusBits = (key.algorithm as { modulusLength?: number }).modulusLength;
  if (signatureBytes.length * 8 !== modulusBits) return fail("bad_signature", "Wechatpay-Signature has the wrong length", serial);

  const body = typeof input.body === "string" ? utf8.encode(input.body) : input.body;
  const message = concatBytes(utf8.encode(`${timestamp}\n${nonce}\n`), body, NEWLINE);
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(RSA_SHA256, key, signatureBytes, message);
  } catch {
    valid = false; // a key of another type in the trust store: still a refusal, not a crash
  }
  return valid ? { ok: true, serial, timestamp: seconds } : fail("bad_signature", "Wechatpay-Signature does not verify", serial);
}
