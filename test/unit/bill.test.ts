// Proves parseBill on the three bill fixtures (ALL with BOM + CRLF, SUCCESS, REFUND) and the sdk-go
// legacy layout: row counts, exact fen amounts, summary totals ("45.0" count), columns read by
// header name; truncated or malformed bills throw BillError; XML error bodies are recognised and
// read through the hardened reader.
import { describe, expect, it } from "vitest";
import allCsv from "../fixtures/wechatpay-v2/downloadbill_ALL_wechatpay-axios-plugin.csv?raw";
import successTxt from "../fixtures/wechatpay-v2/downloadbill_SUCCESS_wxjava.txt?raw";
import refundTxt from "../fixtures/wechatpay-v2/downloadbill_REFUND_wxjava.txt?raw";
import sdkgo from "../fixtures/wechatpay-v2/sdkgo_signed_vectors_official_key.json";
import observed from "../fixtures/wechatpay-v2/error_and_edge_responses_observed.json";
import { BillError, isBillErrorXml, parseBill, readBillError } from "../../src/wechatpay/bill";

describe("ALL bill (BOM + CRLF, 27 columns)", () => {
  const bill = parseBill(allCsv);
  it("has 45 rows and the summary `45.0,0.47,0.14,...`", () => {
    expect(allCsv.startsWith("\uFEFF")).toBe(true);
    expect(bill.columns).toHaveLength(27);
    expect(bill.columns[0]).toBe("交易时间");
    expect(bill.rows).toHaveLength(45);
    expect(bill.summary.tradeCount).toBe(45);
    expect(bill.summary.totalFeeFen).toBe(47);
    expect(bill.summary.refundFeeFen).toBe(14);
    expect(bill.summary.raw["手续费总金额"]).toBe("0.08");
  });
  it("row amounts add up to the summary exactly", () => {
    expect(bill.rows.reduce((s, r) => s + r.totalFeeFen, 0)).toBe(47);
    expect(bill.rows.reduce((s, r) => s + (r.refundFeeFen ?? 0), 0)).toBe(14);
    expect(bill.rows.reduce((s, r) => s + (r.orderFeeFen ?? 0), 0)).toBe(47);
    expect(bill.rows.filter((r) => r.tradeState === "REFUND")).toHaveLength(14);
  });
  it("maps the first (refund) row by column name, backticks removed", () => {
    const r = bill.rows[0]!;
    expect(r).toMatchObject({
      tradeTime: "2019-02-19 05:01:46",
      appId: "wxab8acd895ab1638a",
      mchId: "1921000401",
      transactionId: "4200000263201902167700134212",
      outTradeNo: "autotest_20190216081946_82335",
      openid: "oHkLxtx0vUqe-18p_AXTZ1innxkCY",
      tradeType: "JSAPI",
      tradeState: "REFUND",
      totalFeeFen: 0,
      orderFeeFen: 0,
      refundId: "50000709672019011908420787722",
      outRefundNo: "REF4200000263201902167700963919",
      refundFeeFen: 1,
      refundState: "SUCCESS",
      body: "系统拨测-cheeryin-test_micropay_succ",
      attach: "",
    });
    expect(r.requestedRefundFeeFen).toBe(1); // 申请退款金额
    expect(r).not.toHaveProperty("raw"); // rows keep the mapped columns only
  });
  it("maps the last (success) row", () => {
    const r = bill.rows[44]!;
    expect(r.outTradeNo).toBe("autotest_20190219015157_13391");
    expect(r.tradeType).toBe("NATIVE");
    expect(r.totalFeeFen).toBe(3);
    expect(r.refundFeeFen).toBe(0);
    expect(r.refundId).toBe("0"); // ALL bills use "0" placeholders on non-refund rows
  });
  it("parses the same bill with LF endings and without the BOM", () => {
    const lf = parseBill(allCsv.slice(1).replaceAll("\r\n", "\n"));
    expect(lf.rows).toHaveLength(45);
    expect(lf.summary.totalFeeFen).toBe(47);
  });
});

describe("SUCCESS bill (20 columns, no refund columns)", () => {
  const bill = parseBill(successTxt);
  it("reads the row and summary", () => {
    expect(bill.columns).toHaveLength(20);
    expect(bill.rows).toHaveLength(1);
    const r = bill.rows[0]!;
    expect(r.tradeState).toBe("SUCCESS");
    expect(r.totalFeeFen).toBe(1);
    expect(r.orderFeeFen).toBe(1);
    expect(r.refundId).toBeUndefined();
    expect(r.refundFeeFen).toBeUndefined();
    expect(r.requestedRefundFeeFen).toBeUndefined();
    expect(r.body).toBe("XXX");
    expect(bill.summary).toMatchObject({ tradeCount: 31, totalFeeFen: 305, refundFeeFen: 0 });
  });
});

describe("REFUND bill (29 columns incl. refund times)", () => {
  const bill = parseBill(refundTxt);
  it("reads the row and summary", () => {
    expect(bill.columns).toHaveLength(29);
    expect(bill.rows).toHaveLength(1);
    const r = bill.rows[0]!;
    expect(r.tradeState).toBe("REFUND");
    expect(r.refundFeeFen).toBe(1);
    expect(r.refundState).toBe("SUCCESS");
    expect(r.requestedRefundFeeFen).toBe(1);
    expect(bill.summary).toMatchObject({ tradeCount: 4, totalFeeFen: 0, refundFeeFen: 202 });
    expect(bill.summary.raw["手续费总金额"]).toBe("-0.02000");
  });
});

describe("legacy layout (sdk-go, no backticks, 总金额 / 总交易额)", () => {
  it("reads rows and the 5-column summary", () => {
    const c = sdkgo.cases.find((x) => x.test.endsWith("TestDownloadBill"))!;
    const bill = parseBill((c as { response_text: string }).response_text);
    expect(bill.rows).toHaveLength(2);
    expect(bill.rows[0]!.totalFeeFen).toBe(1);
    expect(bill.rows[1]!.body).toBe("被扫支付测试");
    expect(bill.summary).toMatchObject({ tradeCount: 2, totalFeeFen: 2, refundFeeFen: 0 });
  });
});

describe("malformed bills", () => {
  const lines = successTxt.split("\n");
  it.each([
    ["empty", ""],
    ["header only", lines[0]!],
    ["truncated: no summary", lines.slice(0, 2).join("\n")],
    ["truncated: summary header without row", lines.slice(0, 3).join("\n")],
    ["rows after the summary", [...lines, lines[1]].join("\n")],
    ["XML error body", observed.downloadbill_no_bill.xml],
    ["not a bill", "hello,world\n1,2"],
  ])("%s → BillError", (_label, text) => {
    expect(() => parseBill(text)).toThrow(BillError);
  });
  it("a comma inside a backtick field does not shift columns", () => {
    const withComma = successTxt.replace("`XXX,`XXXX,`0.00000", "`A,B,`XXXX,`0.00000");
    expect(parseBill(withComma).rows[0]!.body).toBe("A,B");
  });
});

describe("rows that cannot be read are listed, the rest of the bill is read", () => {
  const lines = allCsv.replace(/^\uFEFF/, "").split(/\r?\n/);
  const row = (n: number) => lines[n]!;
  it.each([
    ["a missing field", (l: string) => l.replace(",`OTHERS", ""), "expected 27 fields, got 26"],
    ["an amount with 3 decimals", (l: string) => l.replace(/`0\.00,/, "`0.001,"), "invalid amount"],
    // A customer's attach of x,`0.01,`y, written unescaped by WeChat: two extra fields.
    ["a backtick-comma inside 商户数据包", (l: string) => {
      const fields = l.split(",`");
      fields[21] = "x,`0.01,`y";
      return fields.join(",`");
    }, "expected 27 fields, got 29"],
  ])("%s → unreadable with its line number and reason", (_label, spoil, reason) => {
    const text = [row(0), row(1), spoil(row(2)), ...lines.slice(3)].join("\n");
    const bill = parseBill(text);
    expect(bill.unreadable).toEqual([{ line: 3, reason }]);
    expect(bill.rows).toHaveLength(44);
    expect(bill.rows[0]).toEqual(parseBill(allCsv).rows[0]);
    expect(bill.rows[1]).toEqual(parseBill(allCsv).rows[2]);
  });
  it("line numbers count blank lines and CRLF as in the file", () => {
    const text = [row(0), "", row(1), spoil(row(2)), ...lines.slice(3)].join("\r\n");
    expect(parseBill(text).unreadable.map((u) => u.line)).toEqual([4]);
    function spoil(l: string) {
      return l.replace(",`OTHERS", "");
    }
  });
  it("a clean bill has no unreadable lines", () => {
    expect(parseBill(allCsv).unreadable).toEqual([]);
  });
});

describe("bill error XML", () => {
  it("recognises and reads No Bill Exist", () => {
    const xml = observed.downloadbill_no_bill.xml;
    expect(isBillErrorXml(xml)).toBe(true);
    expect(isBillErrorXml(`\uFEFF<?xml version="1.0"?>${xml}`)).toBe(true);
    expect(isBillErrorXml(allCsv)).toBe(false);
    expect(readBillError(xml)).toEqual({ returnMsg: "No Bill Exist", errorCode: "20002" });
  });
  it("reads sandbox retmsg and refuses hostile XML", () => {
    expect(readBillError(observed.sandbox_bad_param.xml).returnMsg).toBe("请确认请求参数是否正确param mch_id invalid");
    expect(readBillError("<xml><return_code>FAIL</return_code><return_msg>Bill Creating</return_msg></xml>")).toEqual({
      returnMsg: "Bill Creating",
    });
    expect(() => readBillError('<!DOCTYPE x [<!ENTITY a "b">]><xml/>')).toThrow(BillError);
  });
});
