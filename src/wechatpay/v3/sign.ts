/**
 * Request signing for WeChat Pay API v3
 * (https://pay.weixin.qq.com/docs/partner/development/interface-rules/signature-generation.html):
 * the five-line message, its RSASSA-PKCS1-v1_5 SHA-256 signature with the merchant API private key,
 * and the `Authorization: WECHATPAY2-SHA256-RSA2048 …` header.
 */
import { bytesToBase64, utf8 } from "./encoding";
import { RSA_SHA256 } from "./pem";

/** The Authorization scheme (and the only `Wechatpay-Signature-Type` this service accepts). */
export const AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048";

/**
 * `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n`. Every line ends in `\n`, the last one too: a
 * GET (empty body) ends in `\n\n`, and a body that itself ends in `\n` still gets one more.
 * `canonicalUrl` is the path plus `?query` exactly as sent (see {@link canonicalUrl}).
 */
export function requestMessage(method: string, canonicalUrl: string, timestamp: string, nonce: string, body: string): string {
  return `${method}\n${canonicalUrl}\n${timestamp}\n${nonce}\n${body}\n`;
}

/**
 * The canonical URL of a request: the path and query of the URL object that is also handed to
 * fetch, so the signed string and the wire can never differ in percent-encoding.
 */
export function canonicalUrl(url: URL): string {
  return url.pathname + url.search;
}

/** base64(RSASSA-PKCS1-v1_5-SHA256(key, UTF-8(message))). Deterministic for a given key and message. */
export async function signMessage(key: CryptoKey, message: string): Promise<string> {
  return bytesToBase64(await crypto.subtle.sign(RSA_SHA256, key, utf8.encode(message)));
}

/** The values of the Authorization header. */
export interface AuthorizationFields {
  mchid: string;
  nonce: string;
  signature: string;
  timestamp: string;
  /** The merchant API certificate's serial (not a WeChat Pay key id). */
  serialNo: string;
}

// The docs say the five pairs may come in any order; this is the order of their example.
/** `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`. */
export function authorizationHeader(f: AuthorizationFields): string {
  return `${AUTH_SCHEME} mchid="${f.mchid}",nonce_str="${f.nonce}",signature="${f.signature}",timestamp="${f.timestamp}",serial_no="${f.serialNo}"`;
}

/** The merchant's signing identity. */
export interface MerchantSigner {
  mchid: string;
  /** Merchant API certificate serial, e.g. `openssl x509 -noout -serial -in apiclient_cert.pem`. */
  serialNo: string;
  /** From {@link importMerchantPrivateKey}. */
  privateKey: CryptoKey;
}

/** What {@link signRequest} signs: the exact method, URL and body that will be sent. */
export interface RequestToSign {
  method: string;
  url: URL;
  /** The exact body string sent ("" for none). Serialise once, sign and send the same string. */
  body: string;
  /** Unix seconds as a string (never milliseconds). */
  timestamp: string;
  nonce: string;
}

// A quote, comma or line break in a header value would let it be read as other fields.
const HEADER_SAFE = /^[\x21\x23-\x2b\x2d-\x7e]+$/;

/** The Authorization header for one request, plus the signed message (for a SIGN_ERROR comparison in logs). */
export async function signRequest(signer: MerchantSigner, req: RequestToSign): Promise<{ authorization: string; message: string }> {
  for (const [name, value] of [["mchid", signer.mchid], ["serialNo", signer.serialNo], ["nonce", req.nonce]] as const) {
    if (typeof value !== "string" || !HEADER_SAFE.test(value)) throw new TypeError(`${name} must be printable ASCII without quotes or commas`);
  }
  if (!/^\d{10}$/.test(req.timestamp)) throw new TypeError("timestamp must be 10-digit Unix seconds");
  const message = requestMessage(req.method.toUpperCase(), canonicalUrl(req.url), req.timestamp, req.nonce, req.body);
  const signature = await signMessage(signer.privateKey, message);
  const authorization = authorizationHeader({ mchid: signer.mchid, nonce: req.nonce, signature, timestamp: req.timestamp, serialNo: signer.serialNo });
  return { authorization, message };
}
