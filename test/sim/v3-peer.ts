// What the simulator's API v3 behaviour tests share: a simulator with the default TEST-ONLY v3 keys, the
// independent client (v3-client.ts) as its merchant, the trust store a merchant would hold, and placing
// and paying an order the way the backend and the mini program would.
import { expect } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import type { Simulator, SimulatorOptions } from "../../sim/core.ts";
import { APPID, KEY, MCH } from "./peer.ts";
import { MERCHANT_KEY, PUBLIC_KEY_ID, V3Client, publicKey, v3PaySign } from "./v3-client.ts";

export { APPID, MCH, KEY as KEY_V2 };
/** The default platform certificate's serial (wechatpay-go's test certificate). */
export const CERT_SERIAL = "D7CE59D1F522D701";
/** Every key a migrating merchant trusts, by Wechatpay-Serial. */
export const TRUST = () => ({ [PUBLIC_KEY_ID]: publicKey("java-sdk.wechat_pay_public_key.pem"), [CERT_SERIAL]: publicKey("go-sdk-test.certificate.pem") });

export interface V3Harness {
  sim: Simulator;
  client: V3Client;
  control: (path: string, body?: unknown) => Promise<{ status: number; body: any }>;
  close: () => void;
}

/** A simulator (outbox delivery) and a v3 merchant client for it. */
export function makeV3(over: Partial<SimulatorOptions> = {}, clientOver: Partial<V3Client["o"]> = {}): V3Harness {
  const sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: "s", delivery: "outbox", closeMinAgeSeconds: 0, ...over });
  // the merchant's clock is the simulator's configured clock (the /__sim/clock offset does not move it)
  const client = new V3Client((r) => sim.fetch(r), { mchid: MCH, clock: over.now ?? Date.now, ...clientOver });
  const control = async (path: string, body?: unknown) => {
    const res = await sim.fetch(new Request("http://sim.test" + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }));
    return { status: res.status, body: await res.json() };
  };
  return { sim, client, control, close: () => sim.close() };
}

/** A prepay body as the backend would send it. */
export function prepayBody(h: V3Harness, outTradeNo: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    appid: APPID,
    mchid: MCH,
    description: "Shop-Tea 茶",
    out_trade_no: outTradeNo,
    notify_url: "https://shop.test/wechat/v3/pay/notify",
    amount: { total: 100, currency: "CNY" },
    payer: { openid: h.sim.openidFor("alice") },
    ...over,
  };
}

/** Places an order through POST /v3/pay/transactions/jsapi and returns its wx.requestPayment parameters. */
export async function placeV3(h: V3Harness, outTradeNo: string, over: Record<string, unknown> = {}) {
  const r = await h.client.call("POST", "/v3/pay/transactions/jsapi", prepayBody(h, outTradeNo, over));
  expect(r.status, r.raw).toBe(200);
  const prepayId = r.json!.prepay_id as string;
  const p = { timeStamp: String(Math.floor(Date.now() / 1000)), nonceStr: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", package: `prepay_id=${prepayId}`, signType: "RSA" };
  return { prepayId, payment: { ...p, paySign: v3PaySign(APPID, p.timeStamp, p.nonceStr, p.package, MERCHANT_KEY()) } };
}

/** Places and pays an order (no callback unless `notify` says so); returns the /__sim/pay answer. */
export async function paidV3(h: V3Harness, outTradeNo: string, over: Record<string, unknown> = {}, notify = "none") {
  const { payment } = await placeV3(h, outTradeNo, over);
  const paid = await h.control("/__sim/pay", { payment, notify });
  expect(paid.status, JSON.stringify(paid.body)).toBe(200);
  return paid.body as { transactionId: string; deliveryIds: string[] };
}
