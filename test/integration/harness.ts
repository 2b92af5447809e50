/**
 * Test harness for integration tests: talks to the Worker via exports.default (real HTTP inside
 * workerd, real local D1/KV) and to the simulator through the SIM binding. The simulator runs in the
 * vitest Node process and is also the Worker's outbound network (miniflare outboundService), so the
 * Worker speaks the real XML protocol to it. Notifications are pulled from the simulator's outbox
 * and delivered to the Worker here, and the Worker's reply goes back to the simulator, which decides
 * (as WeChat would) whether it was an acknowledgement or needs a retry.
 */
import { env, exports } from "cloudflare:workers";
import { signedXml } from "../oracle";
import type { SignType } from "../oracle";

/**
 * The independent signer and XML writer (test/oracle.ts: node:crypto, not the Worker's spark-md5 /
 * Web Crypto), so tests catch a signer that drifts from WeChat's algorithm.
 */
export { signWechat, toXml } from "../oracle";

export const ORIGIN = "https://shop.example";

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A JSON call to the Worker. */
export async function api<T = any>(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  // A different client IP per call, as from many phones, so the per-IP login limit does not bite the suite.
  const headers: Record<string, string> = { "cf-connecting-ip": `203.0.113.${Math.floor(Math.random() * 254) + 1}`, ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
  const res = await exports.default.fetch(`${ORIGIN}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body),
  });
  return readReply(res);
}

/** A reply with its body parsed as JSON when it is JSON (else the text: XML replies, empty bodies). */
export async function readReply<T = any>(res: Response): Promise<Reply<T>> {
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, headers: res.headers };
}

export const admin = (method: string, path: string, body?: unknown) =>
  api(method, `/admin${path}`, { token: env.ADMIN_TOKEN, body });

/** Creates (or updates) a product through the admin API. */
export async function putProduct(sku: string, name: string, priceFen: number, active = true) {
  const reply = await admin("PUT", `/products/${sku}`, { name, priceFen, active });
  if (reply.status !== 200) throw new Error(`putProduct ${sku}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.product;
}

let codeCounter = 0;
/** Logs in as `user` with a fresh wx.login code (the simulator maps `user-N` codes to one openid). */
export async function login(user: string): Promise<string> {
  const reply = await api("POST", "/api/login", { body: { code: `${user}-${Date.now()}-${++codeCounter}` } });
  if (reply.status !== 200) throw new Error(`login ${user}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.token;
}

/** POST /api/orders for the given cart. */
export const createOrder = (token: string, items: { sku: string; quantity: number }[], extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  api("POST", "/api/orders", { token, body: { items, ...extra }, headers });

/** Simulator control call. */
export async function sim<T = any>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const res = await env.SIM.fetch(`http://sim.control/__sim${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** The user pays in WeChat (the simulator checks the paySign like the WeChat client would). */
export async function payInWechat(payment: unknown, options: Record<string, unknown> = {}) {
  const reply = await sim("POST", "/pay", { payment, ...options });
  if (reply.status !== 200) throw new Error(`sim pay: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body as { outTradeNo: string; transactionId: string; deliveryIds: string[] };
}

export interface DeliveryOutcome {
  id: string;
  kind: string;
  status: number;
  body: string;
  acknowledged: boolean;
}

/**
 * Delivers every due notification from the simulator's outbox to the Worker (concurrently within a
 * round, as WeChat's servers do), reports each reply back, and repeats while retries are due.
 */
export async function deliverNotifications(maxRounds = 5): Promise<DeliveryOutcome[]> {
  const outcomes: DeliveryOutcome[] = [];
  for (let round = 0; round < maxRounds; round++) {
    const taken = await sim("POST", "/deliveries/take", {});
    const deliveries: { id: string; kind: string; url: string; body: string; contentType?: string }[] = taken.body.deliveries ?? [];
    if (deliveries.length === 0) break;
    await Promise.all(
      deliveries.map(async (d) => {
        // As WeChat sends it: XML notifications, JSON or XML message pushes.
        const res = await exports.default.fetch(d.url, { method: "POST", headers: { "content-type": d.contentType ?? "text/xml" }, body: d.body });
        const text = await res.text();
        const result = await sim("POST", `/deliveries/${d.id}/result`, { status: res.status, body: text });
        outcomes.push({ id: d.id, kind: d.kind, status: res.status, body: text, acknowledged: result.body.acknowledged });
      }),
    );
  }
  return outcomes;
}

/** POSTs raw bytes to a WeChat callback path of the Worker. */
export async function postNotify(path: string, body: BodyInit | null, headers: Record<string, string> = { "content-type": "text/xml" }) {
  const res = await exports.default.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** A genuine-looking signed payment notification for an order (as WeChat would send it). */
export function payNotifyFields(order: { outTradeNo: string; totalFee: number; openid?: string }, overrides: Record<string, string> = {}) {
  const fields: Record<string, string> = {
    appid: env.WECHAT_APPID,
    bank_type: "OTHERS",
    cash_fee: String(order.totalFee),
    fee_type: "CNY",
    is_subscribe: "N",
    mch_id: env.WECHAT_MCH_ID,
    nonce_str: crypto.randomUUID().replace(/-/g, ""),
    openid: order.openid ?? "o-test-openid",
    out_trade_no: order.outTradeNo,
    result_code: "SUCCESS",
    return_code: "SUCCESS",
    time_end: "20261127131500",
    total_fee: String(order.totalFee),
    trade_type: "JSAPI",
    transaction_id: `4200${Date.now()}${Math.floor(Math.random() * 1e10).toString().padStart(10, "0")}`.slice(0, 28),
    ...overrides,
  };
  return fields;
}

/** A notification body: `fields` signed with the test API key (or `key`) as flat `<xml>`. */
export function signedNotifyXml(fields: Record<string, string>, key = env.WECHAT_PAY_KEY, type: SignType = "MD5") {
  return signedXml(fields, key, type);
}

/** Rows of a table, for asserting D1 state directly. */
export async function rows<T = any>(sql: string, ...params: unknown[]): Promise<T[]> {
  const { results } = await env.DB.prepare(sql).bind(...params).all<T>();
  return results;
}

/** A snapshot of everything a refused message must not change: every column of orders and refunds. */
export async function snapshot() {
  const [orders, events, refunds] = await Promise.all([
    rows("SELECT * FROM orders ORDER BY out_trade_no"),
    rows("SELECT id FROM events ORDER BY id"),
    rows("SELECT * FROM refunds ORDER BY out_refund_no"),
  ]);
  const kv = await env.NOTIFY_KV.list();
  return { orders, events, refunds, kv: kv.keys.map((k) => k.name) };
}
