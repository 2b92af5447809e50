// Proves WechatPayClient.downloadBill: a signed request with bill_date/bill_type/sign_type, the CSV
// body parsed into a Bill (BOM + CRLF fixture), `No Bill Exist` / error_code 20002 → no_bill,
// `Bill Creating` → bill_creating, other XML errors → return_fail, a body over maxBillBytes →
// too_large, and HTTP errors, timeouts, non-UTF-8 and truncated bills → transport.
import { describe, expect, it } from "vitest";
import allCsv from "../fixtures/wechatpay-v2/downloadbill_ALL_wechatpay-axios-plugin.csv?raw";
import observed from "../fixtures/wechatpay-v2/error_and_edge_responses_observed.json";
import { WechatPayClient } from "../../src/wechatpay/client";
import { verifySign } from "../../src/wechatpay/sign";
import { readXml } from "../../src/wechatpay/xml";
import { DOC_KEY, fakeFetch, xmlResponse } from "./helpers";

function clientReplying(reply: () => Response | Promise<Response>, timeoutMs?: number, maxBillBytes?: number) {
  const fake = fakeFetch(reply);
  const client = new WechatPayClient({
    appId: "wxd930ea5d5a258f4f",
    mchId: "10000100",
    key: DOC_KEY,
    signType: "HMAC-SHA256",
    payBase: "https://pay.test",
    fetch: fake.fetch,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(maxBillBytes !== undefined ? { maxBillBytes } : {}),
  });
  return { client, seen: fake.seen };
}

const csvResponse = (text: string | Uint8Array) =>
  new Response(text, { headers: { "Content-Type": "text/plain;charset=utf-8" } });

describe("downloadBill", () => {
  it("sends a signed request and parses the bill", async () => {
    const { client, seen } = clientReplying(() => csvResponse(allCsv));
    const r = await client.downloadBill({ billDate: "20190219" });
    expect(seen[0]!.url).toBe("https://pay.test/pay/downloadbill");
    const req = readXml(seen[0]!.body);
    expect(req).toMatchObject({ bill_date: "20190219", bill_type: "ALL", sign_type: "HMAC-SHA256" });
    expect(await verifySign(req, [DOC_KEY], "HMAC-SHA256")).toBe(true);
    expect(r.ok && r.kind === "bill").toBe(true);
    if (r.ok && r.kind === "bill") {
      expect(r.bill.rows).toHaveLength(45);
      expect(r.bill.summary).toMatchObject({ tradeCount: 45, totalFeeFen: 47, refundFeeFen: 14 });
      expect(r).not.toHaveProperty("text"); // the parsed bill only, no second copy of the body
    }
  });
  it("passes billType through", async () => {
    const { client, seen } = clientReplying(() => xmlResponse(observed.downloadbill_no_bill.xml));
    await client.downloadBill({ billDate: "20190219", billType: "REFUND" });
    expect(readXml(seen[0]!.body).bill_type).toBe("REFUND");
  });
  it("No Bill Exist (error_code 20002) → no_bill", async () => {
    const { client } = clientReplying(() => xmlResponse(observed.downloadbill_no_bill.xml));
    expect(await client.downloadBill({ billDate: "20190219" })).toEqual({ ok: true, kind: "no_bill" });
  });
  it("Bill Creating → bill_creating", async () => {
    const { client } = clientReplying(() =>
      xmlResponse("<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[Bill Creating]]></return_msg></xml>"),
    );
    expect(await client.downloadBill({ billDate: "20190219" })).toEqual({ ok: false, kind: "bill_creating" });
  });
  it("other XML errors → return_fail", async () => {
    const { client } = clientReplying(() =>
      xmlResponse("<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[SYSTEMERROR]]></return_msg></xml>"),
    );
    expect(await client.downloadBill({ billDate: "20190219" })).toEqual({ ok: false, kind: "return_fail", returnMsg: "SYSTEMERROR" });
  });
  it("a body over maxBillBytes → too_large (declared or streamed)", async () => {
    const bytes = new TextEncoder().encode(allCsv);
    const streamed = () =>
      new Response(new ReadableStream({ start: (c) => (c.enqueue(bytes), c.close()) }), { headers: { "Content-Type": "text/plain" } });
    for (const reply of [() => csvResponse(allCsv), streamed]) {
      const { client } = clientReplying(reply, undefined, bytes.byteLength - 1);
      expect(await client.downloadBill({ billDate: "20190219" })).toEqual({ ok: false, kind: "too_large", maxBytes: bytes.byteLength - 1 });
    }
    const { client } = clientReplying(() => csvResponse(allCsv), undefined, bytes.byteLength);
    expect(await client.downloadBill({ billDate: "20190219" })).toMatchObject({ ok: true, kind: "bill" });
  });
  it("hostile error XML → transport", async () => {
    const { client } = clientReplying(() => xmlResponse('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xml/>'));
    expect(await client.downloadBill({ billDate: "20190219" })).toMatchObject({ ok: false, kind: "transport" });
  });
  it("HTTP 500, empty, truncated bill, invalid UTF-8, timeout → transport", async () => {
    const cases: [() => Response | Promise<Response>, string][] = [
      [() => new Response("oops", { status: 500 }), "HTTP 500"],
      [() => csvResponse(""), "empty"],
      [() => csvResponse(allCsv.split("\r\n").slice(0, 10).join("\r\n")), "malformed bill"],
      [() => csvResponse(new Uint8Array([0xd6, 0xd0, 0x2c])), "UTF-8"],
      [() => new Promise<Response>(() => undefined), "timeout"],
    ];
    for (const [reply, fragment] of cases) {
      const { client } = clientReplying(reply, 30);
      const r = await client.downloadBill({ billDate: "20190219" });
      expect(r).toMatchObject({ ok: false, kind: "transport" });
      if (!r.ok && r.kind === "transport") expect(r.message).toContain(fragment);
    }
  });
  it("refuses a malformed billDate without calling WeChat", async () => {
    const { client, seen } = clientReplying(() => csvResponse(allCsv));
    expect(await client.downloadBill({ billDate: "2019-02-19" })).toMatchObject({ ok: false, kind: "transport" });
    expect(seen).toHaveLength(0);
  });
});
