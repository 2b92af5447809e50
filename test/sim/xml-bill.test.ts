// The simulator's own building blocks: the strict flat-XML reader/writer and yuan formatting.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { feeFen, fenToYuan } from "../../sim/bill.ts";
import { beijingCompact, beijingDate, parseBeijingCompact } from "../../sim/time.ts";
import { buildXml, parseFlatXml } from "../../sim/xml.ts";

const FIX = join(import.meta.dirname, "../fixtures/wechatpay-v2");

describe("parseFlatXml (strict)", () => {
  it("reads CDATA and plain values exactly, decodes entities, keeps whitespace, accepts a declaration and BOM", () => {
    expect(parseFlatXml('\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n <a><![CDATA[ x<y ]]></a><b>1&amp;2&#x4E2D;</b><c/><d></d></xml>\n')).toEqual({ a: " x<y ", b: "1&2中", c: "", d: "" });
    const notify = parseFlatXml(readFileSync(join(FIX, "pay_notify_wxjava_coupons.xml"), "utf8"));
    expect(notify.coupon_id_0).toBeDefined();
  });

  it.each([
    ["DOCTYPE (the WxJava XXE payload)", readFileSync(join(FIX, "xxe_doctype_wxjava.xml"), "utf8")],
    ["ENTITY", "<xml><!ENTITY x 'y'><a>1</a></xml>"],
    ["duplicate field", "<xml><a>1</a><a>1</a></xml>"],
    ["nested element", "<xml><a><b>1</b></a></xml>"],
    ["nested xml", "<xml><xml>1</xml></xml>"],
    ["mixed content", "<xml><total_fee>1<b>2</b></total_fee></xml>"],
    ["mismatched tags", "<xml><a>1</b></xml>"],
    ["unclosed", "<xml><a>1</a>"],
    ["two roots / trailing garbage", "<xml><a>1</a></xml><xml></xml>"],
    ["attribute", '<xml><a x="1">1</a></xml>'],
    ["comment", "<xml><!-- c --><a>1</a></xml>"],
    ["unknown entity", "<xml><a>&xxe;</a></xml>"],
    ["bare ampersand", "<xml><a>a & b</a></xml>"],
    ["NUL", "<xml><a>\u0000</a></xml>"],
    ["__proto__", "<xml><__proto__>1</__proto__></xml>"],
    ["wrong root", "<root><a>1</a></root>"],
    ["JSON", '{"return_code":"SUCCESS"}'],
    ["plain SUCCESS", "SUCCESS"],
    ["GBK declaration", '<?xml version="1.0" encoding="GBK"?><xml><a>1</a></xml>'],
  ])("rejects %s", (_name, doc) => {
    expect(() => parseFlatXml(doc)).toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("buildXml: numbers plain, strings CDATA (with ]]> split), round-trips", () => {
    const f = { return_code: "SUCCESS", total_fee: "88", attach: "a]]>b<&", refund_fee_0: "1", refund_status_0: "SUCCESS" };
    const x = buildXml(f);
    expect(x).toContain("<total_fee>88</total_fee>");
    expect(x).toContain("<refund_fee_0>1</refund_fee_0>");
    expect(x).toContain("<return_code><![CDATA[SUCCESS]]></return_code>");
    expect(parseFlatXml(x)).toEqual(f);
    expect(buildXml({ return_code: "SUCCESS", appid: "wx" }, { plain: ["return_code"] })).toBe("<xml><return_code>SUCCESS</return_code><appid><![CDATA[wx]]></appid></xml>");
  });
});

describe("money and time", () => {
  it("fen → yuan with integer math (no float artefacts)", () => {
    expect([1, 7, 57, 201, 1990, 12345, 0, -205, 100].map((f) => fenToYuan(f))).toEqual(["0.01", "0.07", "0.57", "2.01", "19.90", "123.45", "0.00", "-2.05", "1.00"]);
    expect(fenToYuan(2, 5)).toBe("0.02000");
    expect(fenToYuan(-2, 5)).toBe("-0.02000");
    expect(() => fenToYuan(0.5)).toThrow();
    expect([feeFen(1), feeFen(84), feeFen(1990), feeFen(12345)]).toEqual([0, 1, 12, 74]);
  });

  it("Beijing time is UTC+8 whatever the host zone", () => {
    const t = Date.UTC(2025, 2, 10, 16, 5, 0); // 00:05 on the 11th in Beijing
    expect(beijingCompact(t)).toBe("20250311000500");
    expect(beijingDate(t)).toBe("20250311");
    expect(parseBeijingCompact("20250311000500")).toBe(t);
    expect(parseBeijingCompact("20250230120000")).toBeNull();
    expect(parseBeijingCompact("2025031100050")).toBeNull();
  });
});
