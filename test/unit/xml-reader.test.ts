// Proves readXml accepts what WeChat really sends and returns exact strings: every XML fixture
// (CDATA and plain values, indentation, indexed coupon fields, empty CDATA, JSON inside CDATA),
// mixed text+CDATA, predefined entities in text only, untrimmed values, CR kept byte-exact,
// BOM + prolog, byte inputs, the refund-notify "root" root, and a null-prototype result.
import { describe, expect, it } from "vitest";
import payNotifyDoc from "../fixtures/wechatpay-v2/pay_notify_official_doc.xml?raw";
import payNotifyCoupons from "../fixtures/wechatpay-v2/pay_notify_wxjava_coupons.xml?raw";
import payNotifyHmac from "../fixtures/wechatpay-v2/pay_notify_hmac_no_sign_type_wxjava_issue1585.xml?raw";
import orderQuery from "../fixtures/wechatpay-v2/orderquery_response_coupons_wxjava.xml?raw";
import refundResp from "../fixtures/wechatpay-v2/refund_response_wxjava.xml?raw";
import refundQuery from "../fixtures/wechatpay-v2/refundquery_response_wxjava.xml?raw";
import uoRequest from "../fixtures/wechatpay-v2/unifiedorder_request_official_doc.xml?raw";
import uoResponse from "../fixtures/wechatpay-v2/unifiedorder_response_official_doc.xml?raw";
import refundNotify from "../fixtures/wechatpay-v2/refund_notify_wechatpy.xml?raw";
import refundPlain from "../fixtures/wechatpay-v2/refund_notify_wechatpy.decrypted.xml?raw";
import observed from "../fixtures/wechatpay-v2/error_and_edge_responses_observed.json";
import { readXml, XmlError } from "../../src/wechatpay/xml";

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof XmlError) return err.code;
    throw err;
  }
  return "ACCEPTED";
};

describe("fixtures", () => {
  it("official pay notify (un-indexed coupon fields)", () => {
    const f = readXml(payNotifyDoc);
    expect(f.total_fee).toBe("1");
    expect(f.coupon_type).toBe("CASH");
    expect(f.attach).toBe("支付测试");
    expect(Object.keys(f)).toHaveLength(20);
  });
  it("WxJava notify with indexed coupons in arbitrary order", () => {
    const f = readXml(payNotifyCoupons);
    expect(f.coupon_fee_0).toBe("100");
    expect(f.coupon_type_1).toBe("NO_CASH");
    expect(f.sub_mch_id).toBe("10000100");
    expect(Object.keys(f)).toHaveLength(24);
  });
  it("HMAC notify without sign_type", () => {
    const f = readXml(payNotifyHmac);
    expect(f.sign).toHaveLength(64);
    expect(f.sign_type).toBeUndefined();
  });
  it("orderquery, refund and refundquery replies", () => {
    expect(readXml(orderQuery).coupon_count).toBe("2");
    const r = readXml(refundResp);
    expect(r.refund_channel).toBe(""); // <![CDATA[]]>
    expect(r.refund_fee).toBe("2"); // followed by a trailing space before the newline
    expect(readXml(refundQuery).refund_status_0).toBe("PROCESSING");
  });
  it("unifiedorder request with JSON detail in CDATA, and its reply", () => {
    const f = readXml(uoRequest);
    expect(f.body).toBe("JSAPI支付测试");
    expect(JSON.parse(f.detail!).goods_detail).toHaveLength(2);
    expect(readXml(uoResponse).prepay_id).toBe("wx201411101639507cbf6ffd8b0779950874");
  });
  it("refund notify outer XML (plain return_code) and decrypted <root>", () => {
    const outer = readXml(refundNotify);
    expect(outer.return_code).toBe("SUCCESS");
    expect(outer.req_info).toMatch(/^51A27s9L.*=$/);
    expect(outer.sign).toBeUndefined();
    const inner = readXml(refundPlain, { root: "root" });
    expect(inner.refund_recv_accout).toBe("招商银行信用卡8915");
    expect(Object.keys(inner)).toHaveLength(13);
  });
  it("observed error replies: unsigned FAIL, space-separated fields, empty device_info, sandbox CRLF", () => {
    expect(readXml(observed.sign_error_return_level.xml)).toEqual({ return_code: "FAIL", return_msg: "签名错误" });
    const close = readXml(observed.closeorder_systemerror.xml);
    expect(close.err_code).toBe("SYSTEMERROR");
    expect(close.err_code_des).toBe("system error");
    expect(readXml(observed.orderquery_notpay.xml).device_info).toBe("");
    expect(readXml(observed.sandbox_bad_param.xml).retcode).toBe("1");
    expect(readXml(observed.downloadbill_no_bill.xml).error_code).toBe("20002");
  });
});

describe("value exactness", () => {
  it("does not trim, coerce or reformat values", () => {
    const f = readXml("<xml><a> 1 </a><b>0088</b><c>1.00</c><d>1e3</d><e>true</e></xml>");
    expect(f).toEqual({ a: " 1 ", b: "0088", c: "1.00", d: "1e3", e: "true" });
  });
  it("concatenates mixed text and CDATA in order", () => {
    expect(readXml("<xml><a>x<![CDATA[<y>]]>z</a></xml>").a).toBe("x<y>z");
  });
  it("decodes predefined entities and char refs in text, never in CDATA", () => {
    const f = readXml("<xml><a>a&amp;b&lt;&gt;&quot;&apos;&#20013;&#x6587;</a><b><![CDATA[&amp;]]></b></xml>");
    expect(f.a).toBe("a&b<>\"'中文");
    expect(f.b).toBe("&amp;");
  });
  it("reads empty elements as empty strings", () => {
    expect(readXml("<xml><a/><b></b><c><![CDATA[]]></c></xml>")).toEqual({ a: "", b: "", c: "" });
  });
  it("keeps CR and CRLF inside values byte-exact (signatures cover them)", () => {
    const f = readXml("<xml>\r\n<a>l1\r\nl2\rl3</a>\r\n<b><![CDATA[x\r\ny]]></b>\r\n</xml>\r\n");
    expect(f.a).toBe("l1\r\nl2\rl3");
    expect(f.b).toBe("x\r\ny");
  });
  it("ignores indentation between fields but keeps CJK and whitespace inside", () => {
    expect(readXml("<xml>\n\t<a>\t中 文\t</a>\n</xml>\n").a).toBe("\t中 文\t");
  });
  it("splits ]]> across CDATA sections like writeXml does", () => {
    expect(readXml("<xml><a><![CDATA[a]]]]><![CDATA[>b]]></a></xml>").a).toBe("a]]>b");
  });
});

describe("inputs and options", () => {
  const doc = "<xml><return_code>SUCCESS</return_code></xml>";
  it("accepts string, Uint8Array and ArrayBuffer", () => {
    const bytes = new TextEncoder().encode(doc);
    expect(readXml(doc).return_code).toBe("SUCCESS");
    expect(readXml(bytes).return_code).toBe("SUCCESS");
    expect(readXml(bytes.buffer as ArrayBuffer).return_code).toBe("SUCCESS");
  });
  it("B05: accepts a UTF-8 BOM and an <?xml ...?> prolog (bytes and string)", () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n${doc}`;
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]);
    expect(readXml(bytes).return_code).toBe("SUCCESS");
    expect(readXml(`\uFEFF${text}`).return_code).toBe("SUCCESS");
    expect(readXml(`<?xml version='1.0' standalone='yes'?>${doc}`).return_code).toBe("SUCCESS");
  });
  it("checks the root name (refund-notify plaintext uses <root>)", () => {
    expect(readXml("<root><a>1</a></root>", { root: "root" }).a).toBe("1");
    expect(code(() => readXml("<root><a>1</a></root>"))).toBe("MALFORMED");
    expect(code(() => readXml("<xml><a>1</a></xml>", { root: "root" }))).toBe("MALFORMED");
  });
  it("honours maxFields and maxBytes", () => {
    const fields = (n: number) => `<xml>${Array.from({ length: n }, (_, i) => `<f${i}>1</f${i}>`).join("")}</xml>`;
    expect(Object.keys(readXml(fields(100)))).toHaveLength(100);
    expect(code(() => readXml(fields(101)))).toBe("TOO_MANY_FIELDS");
    expect(Object.keys(readXml(fields(101), { maxFields: 200 }))).toHaveLength(101);
    expect(code(() => readXml(doc, { maxBytes: 10 }))).toBe("TOO_LARGE");
  });
  it("returns a null-prototype object that still behaves like a record", () => {
    const f = readXml("<xml><a>1</a></xml>");
    expect(Object.getPrototypeOf(f)).toBeNull();
    expect({ ...f }).toEqual({ a: "1" });
    expect(JSON.stringify(f)).toBe('{"a":"1"}');
    expect("toString" in f).toBe(false);
  });
});
