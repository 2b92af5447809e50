// A tiny, independent WeChat Pay API v3 merchant client for the simulator's tests: it signs requests,
// verifies signed replies and callbacks and decrypts resources with node:crypto directly, written apart
// from sim/v3/ (it imports nothing from sim/), so the simulator is never checked against its own code.
// It is itself pinned to the vendored vectors in v3-crypto.test.ts.
import { X509Certificate, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, createSign, createVerify, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const V3_FIXTURES = join(import.meta.dirname, "../fixtures/wechatpay-v3");

/** A vendored key file's text. */
export function keyFile(name: string): string {
  return readFileSync(join(V3_FIXTURES, "keys", name), "utf8");
}

/** A vendored vector file, parsed. */
export function vector<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(join(V3_FIXTURES, name), "utf8")) as T;
}

/** A private key from a vendored PEM (the Go key's "TESTING KEY" label read as PRIVATE KEY). */
export function privateKey(name: string): KeyObject {
  return createPrivateKey(keyFile(name).replace(/TESTING KEY/g, "PRIVATE KEY"));
}

/** The public key of a vendored PEM: SPKI or certificate. */
export function publicKey(name: string): KeyObject {
  const pem = keyFile(name);
  return pem.includes("CERTIFICATE") ? new X509Certificate(pem).publicKey : createPublicKey(pem);
}

export const MERCHANT_KEY = () => privateKey("java-sdk.merchant_private_key.pem");
export const MERCHANT_SERIAL = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115";
export const PUBLIC_KEY_ID = "PUB_KEY_ID_0100000000000000000000000000000001";
export const APIV3_KEY = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

function rsaSign(text: string, key: KeyObject): string {
  return createSign("RSA-SHA256").update(text, "utf8").sign(key, "base64");
}

/** The Authorization header value for a request, in the Go SDK's pair order. */
export function authorization(o: { method: string; pathAndQuery: string; body: string; mchid: string; serial: string; key: KeyObject; timestamp?: string; nonce?: string }): string {
  const timestamp = o.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? randomBytes(16).toString("hex");
  const signature = rsaSign(`${o.method}\n${o.pathAndQuery}\n${timestamp}\n${nonce}\n${o.body}\n`, o.key);
  return `WECHATPAY2-SHA256-RSA2048 mchid="${o.mchid}",nonce_str="${nonce}",timestamp="${timestamp}",serial_no="${o.serial}",signature="${signature}"`;
}

/** Does a base64 SHA256-RSA signature verify over `message`? (false for anything that is not one) */
export function rsaVerify(message: string, signature: string, key: KeyObject): boolean {
  try {
    return createVerify("RSA-SHA256").update(message, "utf8").verify(key, signature, "base64");
  } catch {
    return false;
  }
}

/** Does a reply or callback verify: its Wechatpay-* headers over the raw body with the key its serial names? */
export function verifySigned(headers: Headers | Record<string, string>, body: string, trust: Record<string, KeyObject>): boolean {
  const get = (k: string) => (headers instanceof Headers ? headers.get(k) : (headers[k] ?? null));
  const [ts, nonce, sig, serial] = [get("Wechatpay-Timestamp"), get("Wechatpay-Nonce"), get("Wechatpay-Signature"), get("Wechatpay-Serial")];
  if (!ts || !nonce || !sig || !serial || !trust[serial]) return false;
  return rsaVerify(`${ts}\n${nonce}\n${body}\n`, sig, trust[serial]);
}

/** AES-256-GCM: base64(ct ‖ tag) → plaintext; throws on a bad tag. */
export function gcmDecrypt(key: string, nonce: string, aad: string, b64: string): string {
  const all = Buffer.from(b64, "base64");
  const d = createDecipheriv(key.length === 16 ? "aes-128-gcm" : "aes-256-gcm", Buffer.from(key), Buffer.from(nonce));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(all.subarray(all.length - 16));
  return Buffer.concat([d.update(all.subarray(0, all.length - 16)), d.final()]).toString("utf8");
}

/** AES-256-GCM encryption: base64(ct ‖ tag). */
export function gcmEncrypt(key: string, nonce: string, aad: string, plaintext: string): string {
  const c = createCipheriv("aes-256-gcm", Buffer.from(key), Buffer.from(nonce));
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
  return Buffer.concat([ct, c.getAuthTag()]).toString("base64");
}

/** The decrypted resource of a callback body (with the test APIv3 key unless another is given). */
export function openCallback(body: string, key = APIV3_KEY): Record<string, unknown> {
  const env = JSON.parse(body) as { resource: { nonce: string; associated_data: string; ciphertext: string } };
  return JSON.parse(gcmDecrypt(key, env.resource.nonce, env.resource.associated_data, env.resource.ciphertext));
}

/** The v3 paySign for wx.requestPayment. */
export function v3PaySign(appId: string, timeStamp: string, nonceStr: string, pkg: string, key: KeyObject): string {
  return rsaSign(`${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`, key);
}

/** A merchant of the simulator: signs and sends v3 calls to `fetch` (a Simulator's, or HTTP). */
export interface V3ClientOptions {
  mchid: string;
  base?: string;
  serial?: string;
  key?: KeyObject;
  /** sent as Wechatpay-Serial on every call (the WeChat Pay key the merchant can verify) */
  wechatpaySerial?: string;
  clock?: () => number;
  headers?: Record<string, string>;
}

export class V3Client {
  private readonly fetcher: (r: Request) => Promise<Response>;
  readonly o: V3ClientOptions;
  constructor(fetcher: (r: Request) => Promise<Response>, o: V3ClientOptions) {
    this.fetcher = fetcher;
    this.o = o;
  }

  /** Sends a signed call; `body` is sent exactly as given (an object is serialized once, compactly). */
  async call(method: string, pathAndQuery: string, body?: unknown, extra: { authorization?: string; headers?: Record<string, string> } = {}) {
    const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    const timestamp = this.o.clock ? String(Math.floor(this.o.clock() / 1000)) : undefined;
    const auth = extra.authorization ?? authorization({ method, pathAndQuery, body: text, mchid: this.o.mchid, serial: this.o.serial ?? MERCHANT_SERIAL, key: this.o.key ?? MERCHANT_KEY(), timestamp });
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": "v3-client-test/1.0", Authorization: auth, ...(text ? { "Content-Type": "application/json" } : {}), ...this.o.headers, ...extra.headers };
    if (this.o.wechatpaySerial) headers["Wechatpay-Serial"] = this.o.wechatpaySerial;
    const res = await this.fetcher(new Request((this.o.base ?? "https://api.mch.weixin.qq.com") + pathAndQuery, { method, headers, body: text === "" ? undefined : text }));
    const bytes = new Uint8Array(await res.arrayBuffer());
    const raw = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes); // keeps a bill's BOM: hashes cover it
    let json: Record<string, unknown> | null = null;
    try {
      json = raw ? JSON.parse(raw) : null;
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, raw, bytes, json: json as Record<string, any> | null };
  }
}
