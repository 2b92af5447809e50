// Proves writeXml emits CDATA-wrapped flat XML that readXml reads back unchanged (including `]]>`,
// `<`, `&`, CJK and JSON), refuses unwritable names/values, and that ACK_XML / failXml match the
// acknowledgement WeChat expects byte for byte (fixture notify_ack_success.xml).
import { describe, expect, it } from "vitest";
import ackFixture from "../fixtures/wechatpay-v2/notify_ack_success.xml?raw";
import failFixture from "../fixtures/wechatpay-v2/notify_ack_fail_wxjava.xml?raw";
import wechatpy from "../fixtures/wechatpay-v2/sign_wechatpy_test1_test2.json";
import { ACK_XML, failXml, readXml, writeXml, XmlError } from "../../src/wechatpay/xml";

describe("writeXml", () => {
  it("wraps every value in CDATA, in insertion order", () => {
    expect(writeXml({ test1: "test1", test2: "test2", sign: "1E3A8D73B5A4AEE787C0F68B5DAB8520" })).toBe(
      wechatpy.expected_xml_wechatpy_dict_to_xml.replaceAll("\n", ""),
    );
  });
  it("round-trips awkward values exactly", () => {
    const fields = {
      body: "腾讯充值中心-QQ会员充值",
      attach: "a]]>b]]>]]>c",
      detail: '{"goods_detail":[{"goods_name":"<b>&amp;</b>"}]}',
      spaces: "  padded  ",
      empty: "",
      lines: "l1\r\nl2",
    };
    expect(readXml(writeXml(fields))).toEqual(fields);
  });
  it("supports another root", () => {
    expect(writeXml({ a: "1" }, "root")).toBe("<root><a><![CDATA[1]]></a></root>");
    expect(readXml(writeXml({ a: "1" }, "root"), { root: "root" })).toEqual({ a: "1" });
  });
  it("refuses invalid names and control characters", () => {
    for (const bad of ["a b", "a<b", "1abc", "", "a-b", "__proto__", "x:y"]) {
      expect(() => writeXml({ [bad]: "v" })).toThrow(XmlError);
    }
    expect(() => writeXml({ a: "x\u0000" })).toThrow(XmlError);
    expect(() => writeXml({ a: "1" }, "bad root")).toThrow(XmlError);
  });
});

describe("acknowledgements", () => {
  it("ACK_XML is byte-exact", () => {
    expect(ACK_XML).toBe(
      "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>",
    );
    expect(ACK_XML).toBe(ackFixture.trim());
    expect(readXml(ACK_XML)).toEqual({ return_code: "SUCCESS", return_msg: "OK" });
  });
  it("failXml has the same shape with FAIL", () => {
    expect(failXml("500")).toBe(failFixture.trim());
    expect(readXml(failXml("签名失败"))).toEqual({ return_code: "FAIL", return_msg: "签名失败" });
  });
  it("failXml never throws: control chars dropped, ]]> kept safe", () => {
    expect(readXml(failXml("bad\u0000 ]]> input"))).toEqual({ return_code: "FAIL", return_msg: "bad ]]> input" });
  });
});
