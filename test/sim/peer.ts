// What the simulator's tests use to check it from the outside: the local account and the independent
// test oracle (test/oracle.ts: the official v2 signature and a flat-XML reader/writer written apart
// from the simulator), so the simulator is never checked against its own code.
import { expect } from "vitest";
import type { Simulator } from "../../sim/core.ts";
import { parseXml, signWechat, toXml } from "../oracle.ts";
import type { SignType } from "../oracle.ts";

export { parseXml as parse, toXml } from "../oracle.ts";

export const APPID = "wxd930ea5d5a258f4f";
export const MCH = "10000100";
export const KEY = "192006250b4c09247ec02edce69f6a2d";
export type T = SignType;

/** The official sign (test/oracle.ts), with the local API key unless another is given. */
export function officialSign(f: Record<string, string>, type: T = "MD5", key = KEY): string {
  return signWechat(f, key, type);
}

/** Place an order like the backend would and build the wx.requestPayment parameters it would return. */
export async function placeOrder(sim: Simulator, outTradeNo: string, opts: { type?: T; notifyUrl?: string; totalFee?: string; attach?: string; body?: string; user?: string } = {}) {
  const type = opts.type ?? "MD5";
  const f: Record<string, string> = {
    appid: APPID, mch_id: MCH, nonce_str: "n" + outTradeNo, body: opts.body ?? "Shop-Tea", out_trade_no: outTradeNo, total_fee: opts.totalFee ?? "1", spbill_create_ip: "127.0.0.1",
    notify_url: opts.notifyUrl ?? "https://shop.test/wechat/pay/notify", trade_type: "JSAPI", openid: sim.openidFor(opts.user ?? "alice"),
  };
  if (opts.attach) f.attach = opts.attach;
  if (type === "HMAC-SHA256") f.sign_type = type;
  f.sign = officialSign(f, type);
  const r = parseXml(await (await sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method: "POST", body: toXml(f) }))).text());
  expect(r.result_code).toBe("SUCCESS");
  const p = { timeStamp: String(Math.floor(Date.now() / 1000)), nonceStr: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", package: `prepay_id=${r.prepay_id}`, signType: type };
  return { ...p, paySign: officialSign({ appId: APPID, ...p }, type) };
}
