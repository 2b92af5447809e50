// The vendored WeChat Pay v3 vectors (test/fixtures/wechatpay-v3, see its SOURCES.md), loaded
// byte-exact with Vite's `?raw`, plus the few helpers the v3 unit tests share. The keys are public
// test keys from the official SDKs' own tests.
import goKeyTesting from "../fixtures/wechatpay-v3/keys/go-sdk-test.private-key.pkcs8.pem?raw";
import goPublicKey from "../fixtures/wechatpay-v3/keys/go-sdk-test.public-key.spki.pem?raw";
import goCertificate from "../fixtures/wechatpay-v3/keys/go-sdk-test.certificate.pem?raw";
import javaMerchantKey from "../fixtures/wechatpay-v3/keys/java-sdk.merchant_private_key.pem?raw";
import javaMerchantCertificate from "../fixtures/wechatpay-v3/keys/java-sdk.merchant_certificate.pem?raw";
import javaWechatPayKey from "../fixtures/wechatpay-v3/keys/java-sdk.wechat_pay_private_key.pem?raw";
import javaWechatPayCertificate from "../fixtures/wechatpay-v3/keys/java-sdk.wechat_pay_certificate.pem?raw";
import javaWechatPayPublicKey from "../fixtures/wechatpay-v3/keys/java-sdk.wechat_pay_public_key.pem?raw";
import javaDownloadedCertificate from "../fixtures/wechatpay-v3/keys/java-sdk.downloaded-platform-certificate.pem?raw";
import axiosKey from "../fixtures/wechatpay-v3/keys/axios-plugin.apiclient_key.pem?raw";
import axiosClientCertificate from "../fixtures/wechatpay-v3/keys/axios-plugin.apiclient_cert.pem?raw";
import axiosServerCertificate from "../fixtures/wechatpay-v3/keys/axios-plugin.apiserver_cert.pem?raw";

/**
 * The Go SDK's test key is stored under the label `TESTING KEY` so secret scanners leave it alone;
 * it becomes a PKCS#8 `PRIVATE KEY` here, as the Go tests do.
 */
const goKey = goKeyTesting.replace(/TESTING KEY/g, "PRIVATE KEY");

/** Every key file by its path relative to the fixtures folder (as the vector JSON names them). */
export const KEY_FILES: Record<string, string> = {
  "keys/go-sdk-test.private-key.pkcs8.pem": goKey,
  "keys/go-sdk-test.public-key.spki.pem": goPublicKey,
  "keys/go-sdk-test.certificate.pem": goCertificate,
  "keys/java-sdk.merchant_private_key.pem": javaMerchantKey,
  "keys/java-sdk.merchant_certificate.pem": javaMerchantCertificate,
  "keys/java-sdk.wechat_pay_private_key.pem": javaWechatPayKey,
  "keys/java-sdk.wechat_pay_certificate.pem": javaWechatPayCertificate,
  "keys/java-sdk.wechat_pay_public_key.pem": javaWechatPayPublicKey,
  "keys/java-sdk.downloaded-platform-certificate.pem": javaDownloadedCertificate,
  "keys/axios-plugin.apiclient_key.pem": axiosKey,
  "keys/axios-plugin.apiclient_cert.pem": axiosClientCertificate,
  "keys/axios-plugin.apiserver_cert.pem": axiosServerCertificate,
};

/** A key file's text by the path a vector gives. */
export function keyFile(path: string): string {
  const text = KEY_FILES[path];
  if (text === undefined) throw new Error(`no fixture ${path}`);
  return text;
}

/**
 * Every certificate in the fixtures with its serial (SOURCES.md) and validity (`openssl x509
 * -startdate -enddate`; the axios client certificate's notAfter is a GeneralizedTime, year 2294).
 */
export const CERTIFICATES = [
  { file: "keys/go-sdk-test.certificate.pem", serial: "D7CE59D1F522D701", notBefore: "2021-04-27T08:55:23Z", notAfter: "2031-04-25T08:55:23Z" },
  { file: "keys/java-sdk.merchant_certificate.pem", serial: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115", notBefore: "2022-05-10T01:57:10Z", notAfter: "2025-05-09T01:57:10Z" },
  { file: "keys/java-sdk.wechat_pay_certificate.pem", serial: "440024045C4A427599D09BB4E3DE0279F2E813FD", notBefore: "2022-05-10T02:04:30Z", notAfter: "2025-05-09T02:04:30Z" },
  { file: "keys/java-sdk.downloaded-platform-certificate.pem", serial: "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC", notBefore: "2023-09-19T15:15:58Z", notAfter: "2028-09-17T15:15:58Z" },
  { file: "keys/axios-plugin.apiclient_cert.pem", serial: "898DBAD30F416EC7", notBefore: "2020-06-21T02:02:18Z", notAfter: "2294-04-05T02:02:18Z" },
  { file: "keys/axios-plugin.apiserver_cert.pem", serial: "BE2A2344B984167B", notBefore: "2020-06-21T02:54:47Z", notAfter: "2047-11-06T02:54:47Z" },
] as const;

/** The DER inside a PEM, decoded here independently of src/ (atob over the joined base64 lines). */
export function pemDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END)[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Headers from a vector's header object. */
export const headersOf = (h: Record<string, string>) => new Headers(h);

/** A Date from Unix seconds (the vectors freeze the clock in seconds). */
export const atSeconds = (s: number) => new Date(s * 1000);

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/**
 * Signs `message` the way WeChat Pay signs replies and callbacks, with Web Crypto directly (not
 * through src/), so tests that stand in for WeChat do not check the code with itself.
 */
export async function wechatSign(privateKeyPem: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("pkcs8", pemDer(privateKeyPem), RSA, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign(RSA, key, new TextEncoder().encode(message)));
  return btoa(String.fromCharCode(...signature));
}

/** Verifies a base64 RSA signature with an SPKI PEM, independently of src/. */
export async function rsaVerify(spkiPem: string, message: string, signatureBase64: string): Promise<boolean> {
  const key = await crypto.subtle.importKey("spki", pemDer(spkiPem), RSA, false, ["verify"]);
  const signature = Uint8Array.from(atob(signatureBase64), (c) => c.charCodeAt(0));
  return crypto.subtle.verify(RSA, key, signature, new TextEncoder().encode(message));
}

/** AES-GCM encryption as WeChat does it for resources, independently of src/ (for replies the tests forge). */
export async function wechatEncrypt(apiV3Key: string, nonce: string, associatedData: string, plaintext: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(apiV3Key), "AES-GCM", false, ["encrypt"]);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: enc.encode(nonce), additionalData: enc.encode(associatedData) }, key, enc.encode(plaintext)));
  let binary = "";
  for (const b of sealed) binary += String.fromCharCode(b);
  return btoa(binary);
}
