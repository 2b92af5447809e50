// Proves the wx.requestPayment parameters: the official mini-program paySign (22D9B4E5...), the
// sdk-go JSAPI paySign, the computed MD5/HMAC vectors, and that buildRequestPayment signs appId +
// the four returned fields with the pinned type, returns seconds as a string, and omits appId.
import { describe, expect, it } from "vitest";
import official from "../fixtures/wechatpay-v2/paysign_miniprogram_official.json";
import sdkgo from "../fixtures/wechatpay-v2/sdkgo_signed_vectors_official_key.json";
import computed from "../fixtures/wechatpay-v2/computed_vectors.json";
import { buildRequestPayment } from "../../src/wechatpay/payment";
import { canonicalString, sign, verifySign } from "../../src/wechatpay/sign";
import { asFields } from "./helpers";

describe("published paySign vectors", () => {
  it("official doc: 22D9B4E54AB1950F51E0649E8810ACD6", async () => {
    const f = official.signed_fields;
    expect(canonicalString(f, official.api_key)).toBe(official.stringSignTemp);
    expect(await sign(f, official.api_key, "MD5")).toBe("22D9B4E54AB1950F51E0649E8810ACD6");
    const built = await buildRequestPayment({
      appId: f.appId,
      prepayId: f.package.replace("prepay_id=", ""),
      key: official.api_key,
      signType: "MD5",
      now: new Date(Number(f.timeStamp) * 1000),
      nonce: f.nonceStr,
    });
    expect(built).toEqual({
      timeStamp: "1490840662",
      nonceStr: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
      package: "prepay_id=wx2017033010242291fcfe0db70013231072",
      signType: "MD5",
      paySign: "22D9B4E54AB1950F51E0649E8810ACD6",
    });
  });
  it("official data, derived HMAC variant", async () => {
    const f = { ...official.signed_fields, signType: "HMAC-SHA256" };
    expect(await sign(f, official.api_key, "HMAC-SHA256")).toBe(official.derived_not_official_HMAC_variant.paySign);
  });
  it("sdk-go JSAPI paySign A62A01211E36F5D2173A9EE93EBAC56C", async () => {
    const jsapi = sdkgo.signature_only[1]!;
    expect(await sign(asFields(jsapi.params), sdkgo.api_key, "MD5")).toBe("A62A01211E36F5D2173A9EE93EBAC56C");
    expect(jsapi.paySign).toBe("A62A01211E36F5D2173A9EE93EBAC56C");
  });
  it("computed paysign MD5 and HMAC via buildRequestPayment", async () => {
    for (const v of [computed.paysign_md5, computed.paysign_hmac]) {
      const f = v.signed_fields;
      const type = f.signType as "MD5" | "HMAC-SHA256";
      expect(canonicalString(f, computed.api_key)).toBe(v.string_to_sign);
      const built = await buildRequestPayment({
        appId: f.appId,
        prepayId: "wx201411101639507cbf6ffd8b0779950874",
        key: computed.api_key,
        signType: type,
        now: new Date(1414561699_999),
        nonce: f.nonceStr,
      });
      expect(built.timeStamp).toBe("1414561699"); // seconds, truncated, never milliseconds
      expect(built.paySign).toBe(v.paySign);
    }
  });
});

describe("buildRequestPayment", () => {
  it("returns exactly the five wx.requestPayment fields; appId is signed but absent", async () => {
    const p = await buildRequestPayment({ appId: "wxAPP", prepayId: "wx123", key: "k".repeat(32), signType: "HMAC-SHA256" });
    expect(Object.keys(p).sort()).toEqual(["nonceStr", "package", "paySign", "signType", "timeStamp"]);
    expect(p.nonceStr).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(p.timeStamp).toMatch(/^\d{10}$/);
    expect(p.package).toBe("prepay_id=wx123");
    expect(await verifySign({ ...p, appId: "wxAPP", sign: p.paySign, paySign: "" }, ["k".repeat(32)], "HMAC-SHA256")).toBe(true);
    expect(await verifySign({ ...p, appId: "wxOTHER", sign: p.paySign, paySign: "" }, ["k".repeat(32)], "HMAC-SHA256")).toBe(false);
  });
  it("refuses empty inputs", async () => {
    await expect(buildRequestPayment({ appId: "wx", prepayId: "", key: "k", signType: "MD5" })).rejects.toThrow(TypeError);
  });
});
