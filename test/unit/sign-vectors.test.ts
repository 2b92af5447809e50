// Proves sign()/canonicalString() reproduce every published request-side signature vector:
// the official doc example, wechatpy test1/test2, all shenghui0779/sdk-go request signs and
// signature-only params, and computed_vectors.json (CJK body, empty attach excluded, HMAC with
// sign_type in the string). CJK vectors prove MD5 hashes UTF-8 bytes, not UTF-16 code units.
import { describe, expect, it } from "vitest";
import official from "../fixtures/wechatpay-v2/sign_official_example.json";
import wechatpy from "../fixtures/wechatpay-v2/sign_wechatpy_test1_test2.json";
import sdkgo from "../fixtures/wechatpay-v2/sdkgo_signed_vectors_official_key.json";
import computed from "../fixtures/wechatpay-v2/computed_vectors.json";
import { canonicalString, md5Hex, sign, type SignType } from "../../src/wechatpay/sign";
import { asFields } from "./helpers";

describe("official doc example (pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3)", () => {
  it("builds stringSignTemp exactly", () => {
    expect(canonicalString(official.params, official.api_key)).toBe(official.stringSignTemp);
  });
  it("MD5 = 9A0A8659F005D6984697E2CA0A9CF3B7", async () => {
    expect(await sign(official.params, official.api_key, "MD5")).toBe(official.expected_sign_MD5);
    expect(official.expected_sign_MD5).toBe("9A0A8659F005D6984697E2CA0A9CF3B7");
  });
  it("HMAC-SHA256 = 6A9AE165...", async () => {
    expect(await sign(official.params, official.api_key, "HMAC-SHA256")).toBe(official.expected_sign_HMAC_SHA256);
  });
});

describe("wechatpy test1/test2", () => {
  it("string, MD5 and HMAC match", async () => {
    expect(canonicalString(wechatpy.params, wechatpy.api_key)).toBe(wechatpy.stringSignTemp);
    expect(await sign(wechatpy.params, wechatpy.api_key, "MD5")).toBe("1E3A8D73B5A4AEE787C0F68B5DAB8520");
    expect(await sign(wechatpy.params, wechatpy.api_key, "HMAC-SHA256")).toBe(
      "EDAC6D70D2FDF5A2382F8204FC96A1918017E46ACC5297F565ED1A7610ACF659",
    );
  });
});

describe("sdk-go request signatures (doc key)", () => {
  it("has all 13 request vectors", () => expect(sdkgo.cases.length).toBe(13));
  for (const c of sdkgo.cases) {
    it(`${c.test} request sign (${c.request_sign_type})`, async () => {
      const req = asFields(c.request);
      const type = c.request_sign_type as SignType;
      expect(await sign(req, sdkgo.api_key, type)).toBe(req.sign);
    });
  }
});

describe("sdk-go signature-only vectors", () => {
  it("APP pay params: MD5 and HMAC", async () => {
    const app = sdkgo.signature_only[0]!;
    expect(await sign(asFields(app.params), sdkgo.api_key, "MD5")).toBe(app.sign_MD5);
    expect(await sign(asFields(app.params), sdkgo.api_key, "HMAC-SHA256")).toBe(app.sign_HMAC_SHA256);
  });
});

describe("computed_vectors.json", () => {
  it("unifiedorder MD5: CJK body, empty attach skipped", async () => {
    const v = computed.unifiedorder_request_md5;
    const s = canonicalString(v.params, computed.api_key);
    expect(s).toBe(v.string_to_sign);
    expect(s).not.toContain("attach=");
    expect(await sign(v.params, computed.api_key, "MD5")).toBe("B6361767A3E153BC519E9AA1B3677788");
  });
  it("unifiedorder HMAC: sign_type is part of the signed string", async () => {
    const v = computed.unifiedorder_request_hmac;
    expect(canonicalString(v.params, computed.api_key)).toBe(v.string_to_sign);
    expect(await sign(v.params, computed.api_key, "HMAC-SHA256")).toBe(v.sign);
  });
  it("unifiedorder response MD5", async () => {
    const v = computed.unifiedorder_response_md5;
    expect(await sign(v.params, computed.api_key, "MD5")).toBe(v.sign);
  });
  it("pay notify MD5 and HMAC-without-sign_type", async () => {
    expect(await sign(computed.pay_notify_md5.params, computed.api_key, "MD5")).toBe(computed.pay_notify_md5.sign);
    const h = computed.pay_notify_hmac_without_sign_type_field;
    expect(await sign(h.params, computed.api_key, "HMAC-SHA256")).toBe(h.sign);
  });
});

describe("canonicalString rules", () => {
  it("excludes sign, skips empties, sorts by code unit, keeps values byte-exact", () => {
    const s = canonicalString({ b: " 1 ", a: "x", sign: "S", Z: "upper", e: "", total_fee: "0088" }, "K");
    expect(s).toBe("Z=upper&a=x&b= 1 &total_fee=0088&key=K");
  });
  it("MD5 hashes UTF-8 bytes (CJK)", () => {
    // md5("中") over UTF-8 E4 B8 AD, not over the single UTF-16 code unit.
    expect(md5Hex("中")).toBe("aed1dfbc31703955e64806b799b67645");
    expect(md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
  });
});
