/**
 * The WeChat Pay API v3 harness: the Worker run with v3 settings of its own (the pinned test
 * bindings stay v2), one env object per configuration so loadConfig's per-env cache and the trust
 * store's per-configuration download throttle behave as in one isolate of a deployment. Keys: the
 * vendored TEST-ONLY keys (test/fixtures/wechatpay-v3/keys), the same ones the simulator uses by
 * default: wechatpay-java's merchant pair as the merchant, its "WeChat Pay" key as the WeChat Pay
 * public key (id PUB_KEY_ID_0100…01), wechatpay-go's self-signed certificate as the platform certificate.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import merchantKey from "../fixtures/wechatpay-v3/keys/java-sdk.merchant_private_key.pem?raw";
import merchantCertificate from "../fixtures/wechatpay-v3/keys/java-sdk.merchant_certificate.pem?raw";
import wechatPayPublicKey from "../fixtures/wechatpay-v3/keys/java-sdk.wechat_pay_public_key.pem?raw";
import wechatPayPrivateKey from "../fixtures/wechatpay-v3/keys/java-sdk.wechat_pay_private_key.pem?raw";
import platformCertificate from "../fixtures/wechatpay-v3/keys/go-sdk-test.certificate.pem?raw";
import platformKeyTesting from "../fixtures/wechatpay-v3/keys/go-sdk-test.private-key.pkcs8.pem?raw";
import { aesGcmEncrypt, rsaSign } from "../oracle";
import { ORIGIN, readReply, sim, type Reply } from "./harness";

export const KEYS = {
  merchantKey,
  merchantCertificate,
  merchantSerial: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
  apiV3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
  publicKeyId: "PUB_KEY_ID_0100000000000000000000000000000001",
  wechatPayPublicKey,
  wechatPayPrivateKey,
  platformCertificate,
  /** Stored as `TESTING KEY` so secret scanners leave it alone (SOURCES.md). */
  platformKey: platformKeyTesting.replace(/TESTING KEY/g, "PRIVATE KEY"),
  platformSerial: "D7CE59D1F522D701",
};

export type TrustMode = "publicKey" | "certificate" | "migrating";
export const TRUST_MODES: readonly TrustMode[] = ["publicKey", "certificate", "migrating"];

/** The v3 variables of each trust mode (new orders on v3). */
export function v3Vars(mode: TrustMode): Record<string, string> {
  const common = {
    WECHAT_PAY_API: "v3",
    WECHAT_APIV3_KEY: KEYS.apiV3Key,
    // As an operator pastes a PEM into a one-line variable: with literal \n.
    WECHAT_MCH_PRIVATE_KEY: KEYS.merchantKey.trim().replace(/\n/g, "\\n"),
    WECHAT_MCH_SERIAL: KEYS.merchantSerial,
  };
  const publicKey = { WECHAT_PAY_PUBLIC_KEY_ID: KEYS.publicKeyId, WECHAT_PAY_PUBLIC_KEY: KEYS.wechatPayPublicKey };
  if (mode === "publicKey") return { ...common, ...publicKey };
  if (mode === "certificate") return common;
  return { ...common, ...publicKey, WECHAT_PAY_PLATFORM_CERT: KEYS.platformCertificate };
}

/** A new env object: the pinned bindings with `vars` over them (a fresh config and download throttle). */
export const freshEnv = (vars: Record<string, string>): Env => ({ ...env, ...vars }) as Env;

const envs = new Map<string, Env>();
/** The env of a trust mode (plus overrides), the same object for the same settings. */
export function v3Env(mode: TrustMode, overrides: Record<string, string> = {}): Env {
  const key = JSON.stringify([mode, overrides]);
  let e = envs.get(key);
  if (!e) envs.set(key, (e = freshEnv({ ...v3Vars(mode), ...overrides })));
  return e;
}

/** One request to the Worker with `workerEnv`, waiting for its after-response work (merchant events to the Queue). */
export async function callWorker(workerEnv: Env, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, workerEnv, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return new Response(res.status === 204 || res.status === 304 ? null : text, { status: res.status, headers: res.headers });
}

/** A JSON call to the Worker with `workerEnv` (harness.ts api(), with another env). */
export async function apiWith<T = any>(workerEnv: Env, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 254) + 1}`, ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  return readReply(await callWorker(workerEnv, new Request(`${ORIGIN}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) })));
}

let codes = 0;
/** Logs in as `user` against `workerEnv` (the simulator maps `user-N` codes to one openid). */
export async function loginWith(workerEnv: Env, user: string): Promise<string> {
  const reply = await apiWith(workerEnv, "POST", "/api/login", { body: { code: `${user}-v3-${Date.now()}-${++codes}` } });
  if (reply.status !== 200) throw new Error(`login ${user}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.token;
}

/** Switches the simulator's trust mode (and, while migrating, who signs callbacks). */
export async function setSimMode(mode: TrustMode, callbackSigner: "alternate" | "publicKey" | "certificate" = "alternate") {
  const reply = await sim("POST", "/v3/mode", { mode, callbackSigner });
  if (reply.status !== 200) throw new Error(`sim mode: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export interface V3Delivery {
  id: string;
  kind: string;
  url: string;
  status: number;
  body: string;
  acknowledged: boolean;
  /** The `Wechatpay-Serial` it was signed with (v3 callbacks). */
  serial: string | null;
}

/**
 * Delivers every due notification from the simulator's outbox to the Worker running with
 * `workerEnv`, with the signature headers each v3 attempt carries, and reports each reply back.
 */
export async function deliverWith(workerEnv: Env, maxRounds = 5): Promise<V3Delivery[]> {
  const outcomes: V3Delivery[] = [];
  for (let round = 0; round < maxRounds; round++) {
    const taken = await sim("POST", "/deliveries/take", {});
    const deliveries: { id: string; kind: string; url: string; body: string; contentType?: string; headers?: Record<string, string> }[] = taken.body.deliveries ?? [];
    if (deliveries.length === 0) break;
    await Promise.all(
      deliveries.map(async (d) => {
        const headers = { "content-type": d.contentType ?? "text/xml", ...d.headers };
        const res = await callWorker(workerEnv, new Request(d.url, { method: "POST", headers, body: d.body }));
        const text = await res.text();
        const result = await sim("POST", `/deliveries/${d.id}/result`, { status: res.status, body: text });
        const serial = Object.entries(d.headers ?? {}).find(([k]) => k.toLowerCase() === "wechatpay-serial")?.[1] ?? null;
        outcomes.push({ id: d.id, kind: d.kind, url: d.url, status: res.status, body: text, acknowledged: result.body.acknowledged, serial });
      }),
    );
  }
  return outcomes;
}

/** The v3 calls the simulator received on a route template, e.g. `/v3/certificates`. */
export async function receivedV3(route: string): Promise<any[]> {
  return (await sim("GET", `/received?path=${encodeURIComponent(route)}`)).body.requests;
}

/**
 * A v3 notification made here, independently of src/ and sim/ (test/oracle.ts: node:crypto), a
 * payment's by default (`originalType: "refund"` with a REFUND.* `eventType` for a refund's):
 * `resource` encrypted with the APIv3 key, the raw body signed by `signer` (WeChat Pay's key for
 * its public-key id, by default) over `timestamp\nnonce\nbody\n`.
 */
export function craftTransactionCallback(
  resource: Record<string, unknown>,
  options: { signer?: { serial: string; privateKey: string }; timestamp?: number; eventType?: string; originalType?: "transaction" | "refund" } = {},
) {
  const originalType = options.originalType ?? "transaction";
  const signer = options.signer ?? { serial: KEYS.publicKeyId, privateKey: KEYS.wechatPayPrivateKey };
  const nonce = crypto.randomUUID().replace(/-/g, "").slice(0, 12);
  const body = JSON.stringify({
    id: crypto.randomUUID(),
    create_time: "2026-12-03T10:00:00+08:00",
    resource_type: "encrypt-resource",
    event_type: options.eventType ?? "TRANSACTION.SUCCESS",
    summary: originalType === "transaction" ? "支付成功" : "退款成功",
    resource: {
      original_type: originalType,
      algorithm: "AEAD_AES_256_GCM",
      ciphertext: aesGcmEncrypt(JSON.stringify(resource), KEYS.apiV3Key, nonce, originalType),
      associated_data: originalType,
      nonce,
    },
  });
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const headerNonce = crypto.randomUUID().replace(/-/g, "");
  const headers = {
    "content-type": "application/json",
    "wechatpay-timestamp": timestamp,
    "wechatpay-nonce": headerNonce,
    "wechatpay-serial": signer.serial,
    "wechatpay-signature": rsaSign(`${timestamp}\n${headerNonce}\n${body}\n`, signer.privateKey),
    "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048",
  };
  return { body, headers };
}

/** A paid Transaction as WeChat describes it (the fields a TRANSACTION.SUCCESS resource carries). */
export function paidTransaction(order: { outTradeNo: string; totalFee: number }, overrides: Record<string, unknown> = {}) {
  return {
    appid: env.WECHAT_APPID,
    mchid: env.WECHAT_MCH_ID,
    out_trade_no: order.outTradeNo,
    transaction_id: `4200${Date.now()}${Math.floor(Math.random() * 1e10).toString().padStart(10, "0")}`.slice(0, 28),
    trade_type: "JSAPI",
    trade_state: "SUCCESS",
    trade_state_desc: "支付成功",
    bank_type: "OTHERS",
    attach: "",
    success_time: "2026-12-03T10:00:00+08:00",
    payer: { openid: "o-v3-test-openid" },
    amount: { total: order.totalFee, payer_total: order.totalFee, currency: "CNY", payer_currency: "CNY" },
    ...overrides,
  };
}

/** POSTs a v3 notification to the Worker running with `workerEnv`. */
export async function postV3Notify(workerEnv: Env, callback: { body: string; headers: Record<string, string> }, path = "/wechat/v3/pay/notify") {
  const res = await callWorker(workerEnv, new Request(`${ORIGIN}${path}`, { method: "POST", headers: callback.headers, body: callback.body }));
  return { status: res.status, text: await res.text(), headers: res.headers };
}
