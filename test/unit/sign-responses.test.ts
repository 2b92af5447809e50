// Proves the reader + verifier accept every published signed reply/notify: each sdk-go
// response_xml (tab-indented, plain text values) parsed with readXml then verified with the doc key,
// and computed_vectors' unifiedorder reply and pay notifies (CDATA, CJK attach, coupons; the HMAC
// notify carries no sign_type and verifies only because the type is pinned).
import { describe, expect, it } from "vitest";
import sdkgo from "../fixtures/wechatpay-v2/sdkgo_signed_vectors_official_key.json";
import computed from "../fixtures/wechatpay-v2/computed_vectors.json";
import { verifySign, type Fields } from "../../src/wechatpay/sign";
import { readXml, writeXml } from "../../src/wechatpay/xml";

const withXml = sdkgo.cases.filter((c): c is typeof c & { response_xml: string } => "response_xml" in c);

describe("sdk-go response signatures", () => {
  it("has 10 signed XML responses", () => expect(withXml.length).toBe(10));
  for (const c of withXml) {
    it(`${c.test} response verifies`, async () => {
      const fields = readXml(c.response_xml);
      expect(fields.return_code).toBe("SUCCESS");
      expect(fields.sign).toMatch(/^[0-9A-F]{32}$/);
      expect(await verifySign(fields, [sdkgo.api_key], "MD5")).toBe(true);
      // and not under the other algorithm
      expect(await verifySign(fields, [sdkgo.api_key], "HMAC-SHA256")).toBe(false);
    });
  }
  it("unifiedorder response carries the verified prepay_id", () => {
    const f = readXml(withXml[0]!.response_xml);
    expect(f.prepay_id).toBe("wx201411101639507cbf6ffd8b0779950874");
    expect(f.sign).toBe("E515C9BE3D3129764915407267CA0243");
  });
});

describe("computed_vectors replies and notifies", () => {
  it("unifiedorder response MD5 (CDATA) verifies", async () => {
    const f = readXml(computed.unifiedorder_response_md5.xml);
    expect(f.sign).toBe("12AEAC49895C58E07922F68A21BF6D83");
    expect(await verifySign(f, [computed.api_key], "MD5")).toBe(true);
  });
  it("pay notify MD5 verifies with CJK attach", async () => {
    const f = readXml(computed.pay_notify_md5.xml);
    expect(f.attach).toBe("支付测试");
    expect(f.total_fee).toBe("88");
    expect(Object.keys(f).length).toBe(26);
    expect(await verifySign(f, [computed.api_key], "MD5")).toBe(true);
  });
  it("HMAC notify without sign_type verifies under pinned HMAC only", async () => {
    const h = computed.pay_notify_hmac_without_sign_type_field;
    const f = readXml(writeXml({ ...h.params, sign: h.sign } as Fields));
    expect(f.sign_type).toBeUndefined();
    expect(await verifySign(f, [computed.api_key], "HMAC-SHA256")).toBe(true);
    expect(await verifySign(f, [computed.api_key], "MD5")).toBe(false);
  });
});
