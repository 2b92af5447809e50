// Proves what WechatPayClient sends: POST to the right path under payBase, a body that verifies with
// the official algorithm and the doc key, always carrying sign_type (the pinned type) and a fresh
// 32-char nonce, our appid/mch_id (callers cannot override them), the per-API query fields, and
// refunds routed through certFetch only.
import { describe, expect, it } from "vitest";
import { WechatPayClient } from "../../src/wechatpay/client";
import { verifySign, type SignType } from "../../src/wechatpay/sign";
import { readXml, writeXml } from "../../src/wechatpay/xml";
import { DOC_KEY, fakeFetch, signWechat, xmlResponse } from "./helpers";

const APPID = "wxd930ea5d5a258f4f";
const MCHID = "10000100";

const okReply = async (type: SignType) =>
  xmlResponse(
    writeXml(
      await signWechat(
        { return_code: "SUCCESS", return_msg: "OK", appid: APPID, mch_id: MCHID, nonce_str: "n", result_code: "SUCCESS" },
        DOC_KEY,
        type,
      ),
    ),
  );

const client = (type: SignType, fetch: (r: Request) => Promise<Response>, certFetch?: (r: Request) => Promise<Response>) =>
  new WechatPayClient({ appId: APPID, mchId: MCHID, key: DOC_KEY, signType: type, payBase: "https://pay.test/", fetch, ...(certFetch ? { certFetch } : {}) });

const UNIFIED = {
  body: "腾讯充值中心-QQ会员充值",
  out_trade_no: "20150806125346",
  total_fee: "88",
  spbill_create_ip: "123.12.12.123",
  notify_url: "https://example.com/wechat/pay/notify",
  trade_type: "JSAPI",
  openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
  time_start: "20240311000000",
  time_expire: "20240311003000",
  attach: "",
};

describe("request envelope", () => {
  for (const type of ["MD5", "HMAC-SHA256"] as const) {
    it(`unifiedOrder (${type}): signed body carries sign_type, fresh nonce, our ids`, async () => {
      const { fetch, seen } = fakeFetch(() => okReply(type));
      const c = client(type, fetch);
      expect((await c.unifiedOrder(UNIFIED)).ok).toBe(true);
      expect((await c.unifiedOrder(UNIFIED)).ok).toBe(true);
      const [a, b] = seen.map((s) => ({ ...s, fields: readXml(s.body) }));
      expect(a!.url).toBe("https://pay.test/pay/unifiedorder");
      expect(a!.method).toBe("POST");
      expect(a!.contentType).toContain("text/xml");
      expect(a!.fields).toMatchObject({ ...UNIFIED, appid: APPID, mch_id: MCHID, sign_type: type });
      expect(a!.fields.nonce_str).toMatch(/^[0-9A-Za-z]{32}$/);
      expect(b!.fields.nonce_str).not.toBe(a!.fields.nonce_str);
      expect(a!.fields.sign).toHaveLength(type === "MD5" ? 32 : 64);
      expect(await verifySign(a!.fields, [DOC_KEY], type)).toBe(true);
      expect(a!.body).not.toContain(DOC_KEY);
    });
  }

  it("callers cannot override appid, mch_id, nonce_str, sign_type or sign", async () => {
    const { fetch, seen } = fakeFetch(() => okReply("MD5"));
    await client("MD5", fetch).unifiedOrder({ ...UNIFIED, appid: "wxEVIL", mch_id: "1", sign_type: "HMAC-SHA256", sign: "X", nonce_str: "n" });
    const f = readXml(seen[0]!.body);
    expect(f).toMatchObject({ appid: APPID, mch_id: MCHID, sign_type: "MD5" });
    expect(f.nonce_str).toHaveLength(32);
    expect(await verifySign(f, [DOC_KEY], "MD5")).toBe(true);
  });
});

describe("per-API fields and paths", () => {
  it("orderQuery by out_trade_no or transaction_id", async () => {
    const { fetch, seen } = fakeFetch(() => okReply("MD5"));
    const c = client("MD5", fetch);
    await c.orderQuery({ outTradeNo: "T1" });
    await c.orderQuery({ transactionId: "4200000001" });
    expect(seen.map((s) => s.url)).toEqual(["https://pay.test/pay/orderquery", "https://pay.test/pay/orderquery"]);
    expect(readXml(seen[0]!.body).out_trade_no).toBe("T1");
    expect(readXml(seen[0]!.body).transaction_id).toBeUndefined();
    expect(readXml(seen[1]!.body).transaction_id).toBe("4200000001");
  });
  it("closeOrder", async () => {
    const { fetch, seen } = fakeFetch(() => okReply("MD5"));
    await client("MD5", fetch).closeOrder("T2");
    expect(seen[0]!.url).toBe("https://pay.test/pay/closeorder");
    expect(readXml(seen[0]!.body).out_trade_no).toBe("T2");
  });
  it("refundQuery by out_refund_no, or out_trade_no with offset", async () => {
    const { fetch, seen } = fakeFetch(() => okReply("MD5"));
    const c = client("MD5", fetch);
    await c.refundQuery({ outRefundNo: "R1" });
    await c.refundQuery({ outTradeNo: "T3", offset: 10 });
    await c.refundQuery({ outTradeNo: "T3" });
    expect(seen[0]!.url).toBe("https://pay.test/pay/refundquery");
    expect(readXml(seen[0]!.body).out_refund_no).toBe("R1");
    expect(readXml(seen[1]!.body)).toMatchObject({ out_trade_no: "T3", offset: "10" });
    expect(readXml(seen[2]!.body).offset).toBeUndefined();
    expect(await c.refundQuery({ outTradeNo: "T3", offset: -1 })).toMatchObject({ ok: false, kind: "transport" });
    expect(seen).toHaveLength(3);
  });
  it("refund goes to /secapi/pay/refund through certFetch, never plain fetch", async () => {
    const plain = fakeFetch(() => okReply("MD5"));
    const cert = fakeFetch(() => okReply("MD5"));
    const c = client("MD5", plain.fetch, cert.fetch);
    const r = await c.refund({ out_trade_no: "T4", out_refund_no: "R4", total_fee: "100", refund_fee: "60" });
    expect(r.ok).toBe(true);
    expect(plain.seen).toHaveLength(0);
    expect(cert.seen).toHaveLength(1);
    expect(cert.seen[0]!.url).toBe("https://pay.test/secapi/pay/refund");
    expect(readXml(cert.seen[0]!.body)).toMatchObject({ out_refund_no: "R4", total_fee: "100", refund_fee: "60", sign_type: "MD5" });
    // and other calls do not use certFetch
    await c.orderQuery({ outTradeNo: "T4" });
    expect(cert.seen).toHaveLength(1);
    expect(plain.seen).toHaveLength(1);
  });
  it("refund falls back to fetch when no certFetch is given", async () => {
    const plain = fakeFetch(() => okReply("MD5"));
    await client("MD5", plain.fetch).refund({ out_trade_no: "T5", out_refund_no: "R5", total_fee: "1", refund_fee: "1" });
    expect(plain.seen[0]!.url).toBe("https://pay.test/secapi/pay/refund");
  });
});
