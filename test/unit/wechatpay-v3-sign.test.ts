// v3 request signing and paySign (src/wechatpay/v3/sign.ts, payment.ts) pinned to the vectors:
// the stated sign primitive, the SDKs' mock-signer messages, byte-exact Authorization headers for
// every endpoint (RSASSA-PKCS1-v1_5 is deterministic), and paySign.
import { describe, expect, it } from "vitest";
import signPrimitive from "../fixtures/wechatpay-v3/sign-primitive.stated.json";
import authorizationFormat from "../fixtures/wechatpay-v3/authorization-format.stated.json";
import requestSigning from "../fixtures/wechatpay-v3/request-signing.computed.json";
import paysign from "../fixtures/wechatpay-v3/paysign.json";
import { buildRequestPaymentV3, paySignMessage } from "../../src/wechatpay/v3/payment";
import { importMerchantPrivateKey } from "../../src/wechatpay/v3/pem";
import { authorizationHeader, canonicalUrl, requestMessage, signMessage, signRequest } from "../../src/wechatpay/v3/sign";
import { keyFile, rsaVerify } from "./wechatpay-v3-fixtures";

/** The key="value" pairs of an Authorization header, whatever their order. */
function authFields(header: string): { scheme: string; fields: Record<string, string> } {
  const space = header.indexOf(" ");
  const fields: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g)) fields[m[1]!] = m[2]!;
  return { scheme: header.slice(0, space), fields };
}

describe("sign primitive (sign-primitive.stated.json)", () => {
  for (const v of signPrimitive.vectors) {
    it(`${v.id}: sign(${JSON.stringify(v.message)}) equals the SDK's stated signature`, async () => {
      expect(await signMessage(await importMerchantPrivateKey(keyFile(v.private_key)), v.message)).toBe(v.expected_signature);
    });
  }
});

describe("message and header format (authorization-format.stated.json, mock signers)", () => {
  for (const v of authorizationFormat.vectors) {
    it(`${v.id}: the five-line message`, () => {
      const canonical = "canonical_url" in v && v.canonical_url ? v.canonical_url : canonicalUrl(new URL(v.url!));
      expect(requestMessage(v.method, canonical, v.timestamp, v.nonce, v.body)).toBe(v.expected_message);
    });
    it(`${v.id}: the same five fields as the SDK's header (the docs allow any order)`, () => {
      const signature = v.expected_authorization.match(/signature="([^"]*)"/s)![1]!;
      const ours = authFields(authorizationHeader({ mchid: v.mchid, nonce: v.nonce, signature, timestamp: v.timestamp, serialNo: v.serial_no }));
      const theirs = authFields(v.expected_authorization.replace(/signature="[^"]*"/s, `signature="${signature.replace(/\n/g, "")}"`));
      expect(ours.scheme).toBe("WECHATPAY2-SHA256-RSA2048");
      expect({ ...ours.fields, signature: ours.fields.signature!.replace(/\n/g, "") }).toEqual(theirs.fields);
    });
  }
  it("a body ending in \\n still gets one more (go-post-body-ending-in-LF)", () => {
    expect(requestMessage("POST", "/v3/certificates", "1624523846", "A1B2C3D4E5F6G7", "Hello World!\n")).toMatch(/Hello World!\n\n$/);
  });
});

describe("request signing (request-signing.computed.json): byte-exact Authorization headers", async () => {
  const privateKey = await importMerchantPrivateKey(keyFile(requestSigning.private_key));
  const signer = { mchid: requestSigning.mchid, serialNo: requestSigning.serial_no, privateKey };
  for (const v of requestSigning.vectors) {
    it(`${v.id}: ${v.method} ${v.canonical_url}`, async () => {
      const url = new URL(`https://api.mch.weixin.qq.com${v.canonical_url}`);
      const signed = await signRequest(signer, { method: v.method, url, body: v.body, timestamp: requestSigning.timestamp, nonce: requestSigning.nonce_str });
      expect(signed.message).toBe(v.message);
      expect(signed.authorization).toBe(v.authorization);
    });
  }

  it("signs the URL object's own serialisation (the form fetch sends), not the string it was built from", async () => {
    const url = new URL("https://api.mch.weixin.qq.com/v3/refund/domestic/refunds/R 1|2");
    const signed = await signRequest(signer, { method: "GET", url, body: "", timestamp: requestSigning.timestamp, nonce: requestSigning.nonce_str });
    expect(signed.message.split("\n")[1]).toBe("/v3/refund/domestic/refunds/R%201|2");
    expect(new URL(url.href).pathname).toBe("/v3/refund/domestic/refunds/R%201|2");
  });

  it("refuses header-breaking values and millisecond timestamps before signing", async () => {
    const base = { method: "GET", url: new URL("https://api.mch.weixin.qq.com/v3/certificates"), body: "", timestamp: requestSigning.timestamp, nonce: "abc" };
    await expect(signRequest({ ...signer, mchid: 'x",serial_no="y' }, base)).rejects.toThrow(TypeError);
    await expect(signRequest(signer, { ...base, nonce: "a\nb" })).rejects.toThrow(TypeError);
    await expect(signRequest(signer, { ...base, timestamp: "1554208460000" })).rejects.toThrow(TypeError);
  });
});

describe("paySign (paysign.json)", () => {
  const o = paysign.official_example;
  it("builds the official example's message (its signature cannot be verified: no key was published)", () => {
    expect(paySignMessage(o.appId, o.timeStamp, o.nonceStr, o.package)).toBe(o.message);
  });
  for (const v of paysign.computed) {
    it(`${v.key}: paySign equals the computed value`, async () => {
      const payment = await buildRequestPaymentV3({
        appId: o.appId,
        prepayId: o.package.replace("prepay_id=", ""),
        privateKey: await importMerchantPrivateKey(keyFile(v.key)),
        now: new Date(Number(o.timeStamp) * 1000),
        nonce: o.nonceStr,
      });
      expect(payment.paySign).toBe(v.paySign);
    });
  }
  it("returns exactly the wx.requestPayment object (signType RSA, appId not included)", async () => {
    const payment = await buildRequestPaymentV3({
      appId: o.appId,
      prepayId: "wx201410272009395522657a690389285100",
      privateKey: await importMerchantPrivateKey(keyFile("keys/java-sdk.merchant_private_key.pem")),
      now: new Date(1414561699_000),
      nonce: o.nonceStr,
    });
    expect(payment).toEqual(paysign.requestPayment_object_example);
  });
  it("a fresh nonce and timestamp by default, verifiable with the merchant's public key", async () => {
    const payment = await buildRequestPaymentV3({
      appId: "wxd678efh567hg6787",
      prepayId: "wx2014",
      privateKey: await importMerchantPrivateKey(keyFile("keys/go-sdk-test.private-key.pkcs8.pem")),
    });
    expect(payment.timeStamp).toMatch(/^\d{10}$/);
    expect(payment.nonceStr).toMatch(/^[0-9A-Za-z]{32}$/);
    const message = paySignMessage("wxd678efh567hg6787", payment.timeStamp, payment.nonceStr, "prepay_id=wx2014");
    expect(await rsaVerify(keyFile("keys/go-sdk-test.public-key.spki.pem"), message, payment.paySign)).toBe(true);
  });
  it("refuses an empty appId or prepayId", async () => {
    const privateKey = await importMerchantPrivateKey(keyFile("keys/go-sdk-test.private-key.pkcs8.pem"));
    await expect(buildRequestPaymentV3({ appId: "", prepayId: "wx", privateKey })).rejects.toThrow(TypeError);
    await expect(buildRequestPaymentV3({ appId: "wx", prepayId: "", privateKey })).rejects.toThrow(TypeError);
  });
});
