// Proves req_info decryption against the published vectors (wechatpy fixture, sdk-go/official doc
// example, computed_vectors round trip) and catalogue rows B34/B35/B37: bad base64, a length that
// is not a multiple of 16, the wrong key (padding check) and a DOCTYPE in the plaintext are refused
// with distinct RefundNotifyError codes.
import { describe, expect, it } from "vitest";
import outerXml from "../fixtures/wechatpay-v2/refund_notify_wechatpy.xml?raw";
import decryptedXml from "../fixtures/wechatpay-v2/refund_notify_wechatpy.decrypted.xml?raw";
import meta from "../fixtures/wechatpay-v2/refund_notify_wechatpy.meta.json";
import computed from "../fixtures/wechatpay-v2/computed_vectors.json";
import sdkgo from "../fixtures/wechatpay-v2/sdkgo_signed_vectors_official_key.json";
import { decryptReqInfo, encryptReqInfo, RefundNotifyError } from "../../src/wechatpay/refund-notify";
import { md5Hex } from "../../src/wechatpay/sign";
import { readXml } from "../../src/wechatpay/xml";
import { DOC_KEY } from "./helpers";

const errorCode = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof RefundNotifyError) return err.code;
    throw err;
  }
  return "ACCEPTED";
};

describe("published vectors", () => {
  it("key* = lowercase hex MD5 of the API key", () => {
    expect(md5Hex(meta.api_key)).toBe(meta.aes_key_md5_hex_lower);
    expect(md5Hex(DOC_KEY)).toBe("d96eb16afdd491fa1e705096edbc2205");
  });
  it("wechatpy refund notify decrypts to the fixture plaintext", () => {
    const outer = readXml(outerXml);
    const fields = decryptReqInfo(outer.req_info!, meta.api_key);
    expect(fields).toEqual(readXml(decryptedXml, { root: "root" }));
    expect(fields.out_refund_no).toBe(meta.asserted_by_test.out_refund_no);
    expect(fields.out_trade_no).toBe(meta.asserted_by_test.out_trade_no);
    expect(fields.transaction_id).toBe(meta.asserted_by_test.transaction_id);
    expect(fields.refund_id).toBe(meta.asserted_by_test.refund_id);
    expect(fields.refund_fee).toBe("1");
    expect(fields.success_time).toBe("2020-01-04 18:34:24");
  });
  it("sdk-go / official doc decrypted example (doc key)", () => {
    const v = sdkgo.signature_only[2]!;
    const fields = decryptReqInfo(v.req_info!, DOC_KEY);
    expect(fields).toEqual(readXml(v.plaintext!, { root: "root" }));
    expect(fields.out_refund_no).toBe("131811191610442717309");
    expect(fields.refund_fee).toBe("3960");
  });
  it("computed_vectors: decrypt, and encryptReqInfo reproduces the ciphertext exactly", () => {
    const v = computed.refund_notify;
    expect(decryptReqInfo(v.req_info, computed.api_key)).toEqual(readXml(v.plaintext, { root: "root" }));
    expect(encryptReqInfo(v.plaintext, computed.api_key)).toBe(v.req_info);
    const outer = readXml(v.outer_xml);
    expect(outer.sign).toBeUndefined();
    expect(decryptReqInfo(outer.req_info!, computed.api_key).refund_recv_accout).toBe("支付用户零钱");
  });
  it("round trip with arbitrary UTF-8 content", () => {
    const plain = "<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_recv_accout><![CDATA[招商银行信用卡0403]]></refund_recv_accout></root>";
    expect(decryptReqInfo(encryptReqInfo(plain, "k".repeat(32)), "k".repeat(32))).toEqual({
      out_refund_no: "R1",
      refund_recv_accout: "招商银行信用卡0403",
    });
  });
});

describe("refusals", () => {
  it("B34: not base64 → BAD_BASE64", () => {
    for (const bad of ["", "not base64!", "abc", "QUJD\n", " QUJD", "QUJD====", "QR==", "QUJD-_=="]) {
      expect(errorCode(() => decryptReqInfo(bad, DOC_KEY))).toBe("BAD_BASE64");
    }
  });
  it("B34: base64 that is not a multiple of 16 bytes → BAD_LENGTH", () => {
    const full = computed.refund_notify.req_info;
    expect(errorCode(() => decryptReqInfo(btoa("x".repeat(15)), DOC_KEY))).toBe("BAD_LENGTH");
    expect(errorCode(() => decryptReqInfo(btoa("x".repeat(17)), DOC_KEY))).toBe("BAD_LENGTH");
    const truncated = btoa(atob(full).slice(0, -5));
    expect(errorCode(() => decryptReqInfo(truncated, DOC_KEY))).toBe("BAD_LENGTH");
  });
  it("B35: wrong key → BAD_PADDING", () => {
    expect(errorCode(() => decryptReqInfo(computed.refund_notify.req_info, meta.api_key))).toBe("BAD_PADDING");
    expect(errorCode(() => decryptReqInfo(computed.refund_notify.req_info, "0".repeat(32)))).toBe("BAD_PADDING");
  });
  it("B35: tampered last block → BAD_PADDING", () => {
    const bytes = atob(computed.refund_notify.req_info);
    const flipped = bytes.slice(0, -1) + String.fromCharCode(bytes.charCodeAt(bytes.length - 1) ^ 1);
    expect(errorCode(() => decryptReqInfo(btoa(flipped), DOC_KEY))).toBe("BAD_PADDING");
  });
  it("B37: DOCTYPE (or any non-<root> document) in the plaintext → BAD_XML", () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE root [<!ENTITY x SYSTEM "file:///etc/passwd">]><root><a>&x;</a></root>';
    expect(errorCode(() => decryptReqInfo(encryptReqInfo(xxe, DOC_KEY), DOC_KEY))).toBe("BAD_XML");
    expect(errorCode(() => decryptReqInfo(encryptReqInfo("<xml><a>1</a></xml>", DOC_KEY), DOC_KEY))).toBe("BAD_XML");
    expect(errorCode(() => decryptReqInfo(encryptReqInfo("<root><a>1</a><a>2</a></root>", DOC_KEY), DOC_KEY))).toBe("BAD_XML");
    expect(errorCode(() => decryptReqInfo(encryptReqInfo("", DOC_KEY), DOC_KEY))).toBe("BAD_XML");
  });
  it("error messages never contain the key or plaintext", () => {
    let caught: unknown;
    try {
      decryptReqInfo(computed.refund_notify.req_info, "SECRETKEY0123456789SECRETKEY0123");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RefundNotifyError);
    expect((caught as Error).message).not.toContain("SECRETKEY");
    expect((caught as Error).message).not.toContain("out_refund_no");
  });
});
