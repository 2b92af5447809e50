// Pins the simulator to the shared fixtures: its signer reproduces the published signs, it accepts the
// published requests, and its replies verify with an independent implementation of the official
// algorithm (test/oracle.ts, not the simulator's).
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSimulator, refundNotifyPlaintext } from "../../sim/core.ts";
import type { Simulator } from "../../sim/core.ts";
import { decryptReqInfo, encryptReqInfo, paySign, sign, verifySign } from "../../sim/crypto.ts";
import { parseFlatXml } from "../../sim/xml.ts";
import { parseXml, signWechat, toXml } from "../oracle.ts";

const FIX = join(import.meta.dirname, "../fixtures/wechatpay-v2");
const fixture = (name: string) => JSON.parse(readFileSync(join(FIX, name), "utf8"));
const DOC_KEY = "192006250b4c09247ec02edce69f6a2d";

let sim: Simulator | undefined;
afterEach(() => sim?.close());

describe("sdk-go signed vectors (official doc key)", () => {
  const data = fixture("sdkgo_signed_vectors_official_key.json");
  const cases = data.cases as { test: string; url: string; request: Record<string, string>; request_sign_type: "MD5" | "HMAC-SHA256"; response_xml?: string }[];

  it("the simulator's signer reproduces all 13 request signs", () => {
    expect(cases.length).toBe(13);
    for (const c of cases) {
      const { sign: given, ...rest } = c.request;
      expect(sign(rest, DOC_KEY, c.request_sign_type), c.test).toBe(given);
      expect(verifySign(c.request, DOC_KEY, c.request_sign_type), c.test).toBe(true);
      // and the test's own implementation agrees (so the fixture itself is what we think it is)
      expect(signWechat(rest, DOC_KEY, c.request_sign_type)).toBe(given);
    }
  });

  it("the simulator's parser + verifier accept all 10 signed responses", () => {
    const withResponses = cases.filter((c) => c.response_xml);
    expect(withResponses.length).toBe(10);
    for (const c of withResponses) {
      const f = parseFlatXml(c.response_xml as string);
      expect(verifySign(f, DOC_KEY, "MD5"), c.test).toBe(true);
      expect(verifySign({ ...f, return_msg: "OK." }, DOC_KEY, "MD5")).toBe(false);
    }
  });

  it("signature-only vectors: APP params (MD5 + HMAC) and the JSAPI paySign", () => {
    const [app, jsapi] = data.signature_only as [{ params: Record<string, string>; sign_MD5: string; sign_HMAC_SHA256: string }, { params: Record<string, string>; paySign: string }];
    expect(sign(app.params, DOC_KEY, "MD5")).toBe(app.sign_MD5);
    expect(sign(app.params, DOC_KEY, "HMAC-SHA256")).toBe(app.sign_HMAC_SHA256);
    const p = jsapi.params as { appId: string; timeStamp: string; nonceStr: string; package: string; signType: "MD5" };
    expect(paySign(p, DOC_KEY)).toBe(jsapi.paySign);
  });

  it("accepts every served request vector over HTTP and its replies verify independently", async () => {
    sim = createSimulator({ appId: "wx2421b1c4370ec43b", mchId: "10000100", apiKey: DOC_KEY, appSecret: "s", delivery: "outbox" });
    const expected: Record<string, string> = {
      "mch/order_test.go::TestUnifyOrder": "SUCCESS",
      "mch/order_test.go::TestQueryOrderByTransactionID": "ORDERNOTEXIST",
      "mch/order_test.go::TestQueryOrderByOutTradeNO": "ORDERNOTEXIST",
      "mch/order_test.go::TestCloseOrder": "ORDERNOTEXIST",
      "mch/refund_test.go::TestRefundByTransactionID": "ORDERNOTEXIST",
      "mch/refund_test.go::TestRefundByOutTradeNO": "ORDERNOTEXIST",
      "mch/refund_test.go::TestQueryRefundByRefundID": "REFUNDNOTEXIST",
      "mch/refund_test.go::TestQueryRefundByOutRefundNO": "REFUNDNOTEXIST",
      "mch/refund_test.go::TestQueryRefundByTransactionID": "REFUNDNOTEXIST",
      "mch/refund_test.go::TestQueryRefundByOutTradeNO": "REFUNDNOTEXIST",
    };
    let served = 0;
    for (const c of cases) {
      const path = new URL(c.url).pathname;
      if (path === "/pay/downloadfundflow" || path === "/billcommentsp/batchquerycomment") continue;
      served++;
      const res = await sim.fetch(new Request("https://api.mch.weixin.qq.com" + path, { method: "POST", body: toXml(c.request) }));
      const text = await res.text();
      const f = parseXml(text);
      if (path === "/pay/downloadbill") {
        // the sign was accepted (else "SIGN ERROR"): there is simply no bill for 2014-11-10
        expect(f).toEqual({ return_code: "FAIL", return_msg: "No Bill Exist", error_code: "20002" });
        continue;
      }
      expect(f.return_code, `${c.test}: ${f.return_msg}`).toBe("SUCCESS");
      const outcome = f.result_code === "SUCCESS" ? "SUCCESS" : f.err_code;
      expect(outcome, c.test).toBe(expected[c.test]);
      expect(f.sign).toBe(signWechat(f, DOC_KEY, "MD5"));
      expect(f.sign_type).toBeUndefined();
      expect(f.appid).toBe("wx2421b1c4370ec43b");
      expect(f.nonce_str!.length).toBeLessThanOrEqual(32);
      if (outcome === "SUCCESS") {
        expect(f.prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
        expect(f.trade_type).toBe("APP");
      }
    }
    expect(served).toBe(11);
  });

  it("a vector with one field changed after signing is refused, unsigned", async () => {
    sim = createSimulator({ appId: "wx2421b1c4370ec43b", mchId: "10000100", apiKey: DOC_KEY, appSecret: "s", delivery: "outbox" });
    const c = cases[0]!;
    const res = await sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method: "POST", body: toXml({ ...c.request, total_fee: "100" }) }));
    expect(parseXml(await res.text())).toEqual({ return_code: "FAIL", return_msg: "签名错误" });
  });
});

describe("computed_vectors.json", () => {
  const cv = fixture("computed_vectors.json");

  it("reproduces the unifiedorder request signs (MD5 and HMAC-SHA256) and the notify signs", () => {
    expect(sign(cv.unifiedorder_request_md5.params, DOC_KEY, "MD5")).toBe(cv.unifiedorder_request_md5.sign);
    expect(sign(cv.unifiedorder_request_hmac.params, DOC_KEY, "HMAC-SHA256")).toBe(cv.unifiedorder_request_hmac.sign);
    expect(sign(cv.unifiedorder_response_md5.params, DOC_KEY, "MD5")).toBe(cv.unifiedorder_response_md5.sign);
    expect(sign(cv.pay_notify_md5.params, DOC_KEY, "MD5")).toBe(cv.pay_notify_md5.sign);
    expect(sign(cv.pay_notify_hmac_without_sign_type_field.params, DOC_KEY, "HMAC-SHA256")).toBe(cv.pay_notify_hmac_without_sign_type_field.sign);
    expect(paySign(cv.paysign_md5.signed_fields, DOC_KEY)).toBe(cv.paysign_md5.paySign);
    expect(paySign(cv.paysign_hmac.signed_fields, DOC_KEY)).toBe(cv.paysign_hmac.paySign);
    // the fixture XML (CDATA, plain numbers, empty <attach>) parses to exactly the signed params
    const parsed = parseFlatXml(cv.unifiedorder_request_md5.xml);
    expect(parsed.attach).toBe("");
    expect(verifySign(parsed, DOC_KEY, "MD5")).toBe(true);
  });

  for (const variant of ["unifiedorder_request_md5", "unifiedorder_request_hmac"] as const) {
    it(`accepts the ${variant} request and answers in the same sign type without sign_type`, async () => {
      sim = createSimulator({ appId: "wxd930ea5d5a258f4f", mchId: "10000100", apiKey: DOC_KEY, appSecret: "s", delivery: "outbox" });
      const v = cv[variant];
      const type = variant.endsWith("hmac") ? "HMAC-SHA256" : "MD5";
      const body = variant.endsWith("md5") ? v.xml : toXml({ ...v.params, sign: v.sign });
      const res = await sim.fetch(new Request("https://api.mch.weixin.qq.com/pay/unifiedorder", { method: "POST", body }));
      expect(res.status).toBe(200);
      const f = parseXml(await res.text());
      expect(f.return_code).toBe("SUCCESS");
      expect(f.result_code).toBe("SUCCESS");
      expect(f.sign).toHaveLength(type === "MD5" ? 32 : 64);
      expect(f.sign).toBe(signWechat(f, DOC_KEY, type));
      expect(f.sign_type).toBeUndefined();
      expect(f.trade_type).toBe("JSAPI");
      const order = await (await sim.fetch(new Request("http://sim.test/__sim/orders/20150806125346"))).json();
      expect(order).toMatchObject({ state: "NOTPAY", totalFee: 88, signType: type, openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", prepayId: f.prepay_id });
    });
  }
});

describe("paySign checker", () => {
  it("verifies the official mini-program paySign vector (and its derived HMAC variant)", () => {
    const v = fixture("paysign_miniprogram_official.json");
    expect(paySign({ ...v.signed_fields, signType: "MD5" }, v.api_key)).toBe(v.expected_paySign_MD5);
    expect(paySign({ ...v.signed_fields, signType: "HMAC-SHA256" }, v.api_key)).toBe(v.derived_not_official_HMAC_variant.paySign);
  });

  it("official sign example and wechatpy vectors", () => {
    const o = fixture("sign_official_example.json");
    expect(sign(o.params, o.api_key, "MD5")).toBe(o.expected_sign_MD5);
    expect(sign(o.params, o.api_key, "HMAC-SHA256")).toBe(o.expected_sign_HMAC_SHA256);
    const w = fixture("sign_wechatpy_test1_test2.json");
    expect(sign(w.params, w.api_key, "MD5")).toBe(w.expected_sign_MD5);
    expect(sign(w.params, w.api_key, "HMAC-SHA256")).toBe(w.expected_sign_HMAC_SHA256);
  });
});

describe("refund notify encryption", () => {
  // independent AES-256-ECB with key = lowercase hex md5(api key), PKCS#7 (wechatpy's algorithm)
  const indepDecrypt = (b64: string, apiKey: string) => {
    const d = createDecipheriv("aes-256-ecb", Buffer.from(createHash("md5").update(apiKey).digest("hex")), null);
    return Buffer.concat([d.update(Buffer.from(b64, "base64")), d.final()]).toString("utf8");
  };

  it("reproduces computed_vectors refund_notify req_info exactly from the same plaintext (ECB is deterministic)", () => {
    const rn = fixture("computed_vectors.json").refund_notify;
    expect(encryptReqInfo(rn.plaintext, DOC_KEY)).toBe(rn.req_info);
    expect(decryptReqInfo(rn.req_info, DOC_KEY)).toBe(rn.plaintext);
    // and the simulator's plaintext layout is byte-identical to the fixture's for the same fields
    const fields = parseFlatXml(rn.plaintext, { roots: ["root"] });
    expect(refundNotifyPlaintext(fields)).toBe(rn.plaintext);
  });

  it("decrypts the wechatpy and sdk-go published req_info vectors", () => {
    const meta = fixture("refund_notify_wechatpy.meta.json");
    const outer = parseFlatXml(readFileSync(join(FIX, "refund_notify_wechatpy.xml"), "utf8"));
    const plain = decryptReqInfo(outer.req_info as string, meta.api_key);
    expect(plain.trimEnd()).toBe(readFileSync(join(FIX, "refund_notify_wechatpy.decrypted.xml"), "utf8").trimEnd());
    expect(parseFlatXml(plain, { roots: ["root"] })).toMatchObject(meta.asserted_by_test);
    const sdk = fixture("sdkgo_signed_vectors_official_key.json").signature_only[2];
    expect(decryptReqInfo(sdk.req_info, DOC_KEY)).toBe(sdk.plaintext);
    expect(encryptReqInfo(sdk.plaintext, DOC_KEY)).toBe(sdk.req_info);
  });

  it("a refund notification the simulator sends decrypts with the independent algorithm", async () => {
    sim = createSimulator({ appId: "wxd930ea5d5a258f4f", mchId: "10000100", apiKey: DOC_KEY, appSecret: "s", delivery: "outbox", closeMinAgeSeconds: 0 });
    const post = async (path: string, fields: Record<string, string>) => {
      const all = { appid: "wxd930ea5d5a258f4f", mch_id: "10000100", nonce_str: "n" + Math.random().toString(36).slice(2, 12), ...fields };
      const res = await sim!.fetch(new Request("http://sim.test" + path, { method: "POST", body: toXml({ ...all, sign: signWechat(all, DOC_KEY, "MD5") }) }));
      return parseXml(await res.text());
    };
    const u = await post("/pay/unifiedorder", { body: "t", out_trade_no: "RN1", total_fee: "300", spbill_create_ip: "1.2.3.4", notify_url: "https://m.test/pay", trade_type: "JSAPI", openid: sim.openidFor("zoe") });
    const pkg = "prepay_id=" + u.prepay_id;
    const payment = { timeStamp: "1700000000", nonceStr: "abc", package: pkg, signType: "MD5" };
    const ps = signWechat({ appId: "wxd930ea5d5a258f4f", ...payment }, DOC_KEY, "MD5");
    expect((await sim.fetch(new Request("http://sim.test/__sim/pay", { method: "POST", body: JSON.stringify({ payment: { ...payment, paySign: ps }, notify: "none" }) }))).status).toBe(200);
    const r = await post("/secapi/pay/refund", { out_trade_no: "RN1", out_refund_no: "RF1", total_fee: "300", refund_fee: "120", notify_url: "https://m.test/refund" });
    expect(r.result_code).toBe("SUCCESS");
    const done = await (await sim.fetch(new Request("http://sim.test/__sim/refunds/complete", { method: "POST", body: JSON.stringify({ outRefundNo: "RF1" }) }))).json();
    expect(done.deliveryIds).toHaveLength(1);
    const { deliveries } = await (await sim.fetch(new Request("http://sim.test/__sim/deliveries/take", { method: "POST", body: "{}" }))).json();
    expect(deliveries).toHaveLength(1);
    const d = deliveries[0];
    expect(d).toMatchObject({ kind: "refund", url: "https://m.test/refund", attempt: 1 });
    // outer XML: return_code plain (not CDATA), appid, mch_id, nonce_str, req_info; no sign
    expect(d.body).toMatch(/^<xml><return_code>SUCCESS<\/return_code>/);
    const outer = parseXml(d.body);
    expect(Object.keys(outer).sort()).toEqual(["appid", "mch_id", "nonce_str", "req_info", "return_code"]);
    const inner = parseXml(indepDecrypt(outer.req_info!, DOC_KEY));
    expect(inner).toMatchObject({
      out_refund_no: "RF1",
      out_trade_no: "RN1",
      refund_fee: "120",
      total_fee: "300",
      settlement_refund_fee: "120",
      refund_status: "SUCCESS",
      refund_id: r.refund_id,
      transaction_id: r.transaction_id,
      refund_recv_accout: "支付用户零钱",
      refund_request_source: "API",
    });
    expect(inner.success_time).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // a wrong key cannot decrypt it (bad padding)
    expect(() => indepDecrypt(outer.req_info!, "x".repeat(32))).toThrow();
    // the simulator's cipher equals an independent one: the IJPay vector ("IJPay" ↔ K8fdh/6THGfTKio8pxXS6Q==)
    expect(encryptReqInfo("IJPay", "42cc1d91bab89b65ff55b19e28fff4f0")).toBe("K8fdh/6THGfTKio8pxXS6Q==");
    const c = createCipheriv("aes-256-ecb", Buffer.from(createHash("md5").update("42cc1d91bab89b65ff55b19e28fff4f0").digest("hex")), null);
    expect(Buffer.concat([c.update("IJPay"), c.final()]).toString("base64")).toBe("K8fdh/6THGfTKio8pxXS6Q==");
  });
});
