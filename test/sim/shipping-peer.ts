// What the access-token, shipping and message-push tests share: a simulator per test, JSON calls to
// api.weixin.qq.com and the control API, a paid order, an upload body, and an independent reader of
// a message push (SHA-1 and AES-256-CBC written here with node:crypto, apart from sim/pushcrypto.ts).
import { createDecipheriv, createHash } from "node:crypto";
import { afterEach, expect } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import type { Simulator, SimulatorOptions } from "../../sim/core.ts";
import { APPID, KEY, MCH, parse, placeOrder } from "./peer.ts";

export const SECRET = "shipping-test-app-secret";
export const PUSH_TOKEN = "PushToken2024";
export const PUSH_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

const sims: Simulator[] = [];
afterEach(() => {
  while (sims.length) sims.pop()!.close();
});

/** A simulator closed after the test (outbox delivery, no close delay). */
export function makeSim(over: Partial<SimulatorOptions> = {}): Simulator {
  const sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: SECRET, delivery: "outbox", closeMinAgeSeconds: 0, timeScale: 0, ...over });
  sims.push(sim);
  return sim;
}

/** POST a JSON body (or raw text) to an api.weixin.qq.com path; the parsed JSON answer. */
export async function wx(sim: Simulator, path: string, body: unknown, token?: string | null): Promise<Record<string, any>> {
  const q = token ? `?access_token=${encodeURIComponent(token)}` : "";
  const res = await sim.fetch(new Request(`https://api.weixin.qq.com${path}${q}`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) }));
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return res.json();
}

/** A control call: GET without a body, POST with one. */
export async function control(sim: Simulator, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await sim.fetch(new Request("http://sim.test" + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }));
  return { status: res.status, body: await res.json() };
}

/** A stable access token (normal mode unless `force`). */
export async function accessToken(sim: Simulator, force = false): Promise<string> {
  const r = await wx(sim, "/cgi-bin/stable_token", { grant_type: "client_credential", appid: APPID, secret: SECRET, ...(force ? { force_refresh: true } : {}) });
  expect(r.access_token, JSON.stringify(r)).toMatch(/^\d+_[A-Za-z0-9_-]{100,}$/);
  return r.access_token;
}

/** Places and pays an order as user `user`; its transaction_id and the payer's openid. */
export async function paidOrder(sim: Simulator, outTradeNo: string, opts: { user?: string; body?: string; totalFee?: string; notifyUrl?: string } = {}) {
  const payment = await placeOrder(sim, outTradeNo, opts);
  const paid = await control(sim, "/__sim/pay", { payment, notify: "none" });
  expect(paid.status).toBe(200);
  return { outTradeNo, transactionId: paid.body.transactionId as string, openid: sim.openidFor(opts.user ?? "alice") };
}

let clock = Date.parse("2026-03-01T10:00:00+08:00");
/** An RFC 3339 upload_time later than every earlier one. */
export function uploadTime(): string {
  clock += 60_000;
  return new Date(clock).toISOString().replace("Z", "+00:00");
}

/** A valid unified express upload for `order`; `over` replaces top-level fields. */
export function uploadBody(order: { transactionId: string; openid: string }, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    order_key: { order_number_type: 2, transaction_id: order.transactionId },
    logistics_type: 1,
    delivery_mode: 1,
    shipping_list: [{ tracking_no: "SF1234567890", express_company: "SF", item_desc: "红茶*1", contact: { receiver_contact: "189****1234" } }],
    upload_time: uploadTime(),
    payer: { openid: order.openid },
    ...over,
  };
}

/** Uploads with a fresh token; the answer. */
export async function upload(sim: Simulator, body: Record<string, unknown>): Promise<Record<string, any>> {
  return wx(sim, "/wxa/sec/order/upload_shipping_info", body, await accessToken(sim));
}

/** get_order by transaction_id: the `order` object (fails the test on an errcode). */
export async function getOrder(sim: Simulator, transactionId: string): Promise<Record<string, any>> {
  const r = await wx(sim, "/wxa/sec/order/get_order", { transaction_id: transactionId }, await accessToken(sim));
  expect(r.errcode, JSON.stringify(r)).toBe(0);
  return r.order;
}

const sha1 = (parts: string[]) => createHash("sha1").update(parts.slice().sort().join("")).digest("hex");

/** Decrypts a safe-mode Encrypt the way the documentation spells it out (independently of the simulator). */
function openEncrypt(encrypt: string, encodingAesKey: string): { msg: string; appId: string } {
  const key = Buffer.from(`${encodingAesKey}=`, "base64");
  const d = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
  const full = Buffer.concat([d.update(Buffer.from(encrypt, "base64")), d.final()]);
  const pad = full.at(-1) as number;
  expect(pad).toBeGreaterThanOrEqual(1);
  expect(pad).toBeLessThanOrEqual(32);
  expect(full.subarray(full.length - pad).every((b) => b === pad)).toBe(true);
  expect(full.length % 32).toBe(0);
  const len = full.readUInt32BE(16);
  return { msg: full.subarray(20, 20 + len).toString("utf8"), appId: full.subarray(20 + len, full.length - pad).toString("utf8") };
}

/** Checks a delivered push like a receiver would (signature, msg_signature, decryption, appid) and returns its message. */
export function readPush(d: { url: string; body: string; contentType: string }, opts: { token?: string; aesKey?: string; appId?: string } = {}) {
  const token = opts.token ?? PUSH_TOKEN;
  const url = new URL(d.url);
  const q = Object.fromEntries(url.searchParams);
  expect(q.signature).toBe(sha1([token, q.timestamp as string, q.nonce as string]));
  const json = d.contentType === "application/json";
  const outer: Record<string, any> = json ? JSON.parse(d.body) : parse(d.body);
  let plain = d.body;
  if (opts.aesKey) {
    expect(q.encrypt_type).toBe("aes");
    expect(Object.keys(outer).sort()).toEqual(["Encrypt", "ToUserName"]);
    expect(q.msg_signature).toBe(sha1([token, q.timestamp as string, q.nonce as string, outer.Encrypt]));
    const opened = openEncrypt(outer.Encrypt, opts.aesKey);
    expect(opened.appId).toBe(opts.appId ?? APPID);
    plain = opened.msg;
  } else {
    expect(q.encrypt_type).toBeUndefined();
    expect(q.msg_signature).toBeUndefined();
  }
  const message: Record<string, any> = json ? JSON.parse(plain) : parse(plain);
  return { url, query: q, message, plaintext: plain };
}

/** Takes every due delivery from the outbox. */
export async function take(sim: Simulator): Promise<{ id: string; kind: string; event: string | null; url: string; body: string; contentType: string; attempt: number }[]> {
  return (await control(sim, "/__sim/deliveries/take", {})).body.deliveries;
}
