// unifiedorder (envelope errors, business errors, re-entry), orderquery and closeorder.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import type { Simulator } from "../../sim/core.ts";
import { APPID, MCH, KEY, officialSign, parse, toXml, type T } from "./peer.ts";

let now = Date.UTC(2025, 0, 15, 4, 0, 0); // 12:00 Beijing
let sim: Simulator;
beforeEach(() => {
  now = Date.UTC(2025, 0, 15, 4, 0, 0);
  sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: "s", delivery: "outbox", now: () => now });
});
afterEach(() => sim.close());

let n = 0;
async function call(path: string, fields: Record<string, string>, opts: { type?: T; signType?: boolean; method?: string; raw?: string } = {}) {
  const type = opts.type ?? "MD5";
  const f: Record<string, string> = { appid: APPID, mch_id: MCH, nonce_str: `nonce${++n}`, ...fields };
  if (type === "HMAC-SHA256" || opts.signType) f.sign_type = type;
  f.sign = officialSign(f, type);
  const res = await sim.fetch(new Request("https://api.mch.weixin.qq.com" + path, { method: opts.method ?? "POST", body: (opts.method ?? "POST") === "GET" ? undefined : (opts.raw ?? toXml(f)) }));
  expect(res.status).toBe(200);
  const reply = parse(await res.text());
  if (reply.sign !== undefined) {
    expect(reply.sign).toBe(officialSign(reply, type)); // every signed reply verifies independently
    expect(reply.sign_type).toBeUndefined();
  }
  return reply;
}

const bj = (ms: number) => {
  const d = new Date(ms + 8 * 3600e3);
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
};
const order = (over: Record<string, string> = {}) => ({
  body: "Shop-Tea",
  out_trade_no: "T20250115001",
  total_fee: "1990",
  spbill_create_ip: "203.0.113.7",
  notify_url: "https://shop.test/wechat/pay/notify",
  trade_type: "JSAPI",
  openid: sim.openidFor("alice"),
  time_expire: bj(now + 30 * 60e3),
  attach: "cart=1",
  ...over,
});
const simJson = async (path: string, body?: unknown) =>
  (await sim.fetch(new Request("http://sim.test" + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }))).json();

describe("POST /pay/unifiedorder", () => {
  it("places an order: signed SUCCESS with a prepay_id, MD5 and HMAC-SHA256", async () => {
    const r = await call("/pay/unifiedorder", order());
    expect(r).toMatchObject({ return_code: "SUCCESS", return_msg: "OK", result_code: "SUCCESS", appid: APPID, mch_id: MCH, trade_type: "JSAPI" });
    expect(r.sign).toHaveLength(32);
    expect(r.prepay_id).toMatch(/^wx20250115120000[0-9a-f]{20}$/);
    const h = await call("/pay/unifiedorder", order({ out_trade_no: "T20250115002" }), { type: "HMAC-SHA256" });
    expect(h.sign).toHaveLength(64);
    expect(h.result_code).toBe("SUCCESS");
    const view = await simJson("/__sim/orders/T20250115002");
    expect(view).toMatchObject({ state: "NOTPAY", totalFee: 1990, signType: "HMAC-SHA256", notifyUrl: "https://shop.test/wechat/pay/notify", attach: "cart=1", prepayId: h.prepay_id });
  });

  it("re-entry with identical parameters (new nonce) returns the same prepay_id while valid, a new one after 2 h", async () => {
    const first = await call("/pay/unifiedorder", order());
    const o2 = order();
    now += 60 * 60e3; // 1 h later; time_expire still 30 min after the original now → would be past
    // keep time_expire unchanged (identical parameters): it is now in the past → PARAM_ERROR (checked on every call)
    const late = await call("/pay/unifiedorder", o2);
    expect(late).toMatchObject({ result_code: "FAIL", err_code: "PARAM_ERROR", err_code_des: "time_expire时间过短，刷卡至少1分钟，其他5分钟" });
    now -= 60 * 60e3;
    const again = await call("/pay/unifiedorder", order());
    expect(again.prepay_id).toBe(first.prepay_id);
    // an order without time_expire: same prepay_id within 2 h, a fresh one after
    const a = await call("/pay/unifiedorder", order({ out_trade_no: "NOEXP1", time_expire: "" }));
    now += 7199e3;
    expect((await call("/pay/unifiedorder", order({ out_trade_no: "NOEXP1", time_expire: "" }))).prepay_id).toBe(a.prepay_id);
    now += 2e3;
    const fresh = await call("/pay/unifiedorder", order({ out_trade_no: "NOEXP1", time_expire: "" }));
    expect(fresh.result_code).toBe("SUCCESS");
    expect(fresh.prepay_id).not.toBe(a.prepay_id);
  });

  it("re-entry with changed parameters → OUT_TRADE_NO_USED (amount, body, sign_type)", async () => {
    await call("/pay/unifiedorder", order());
    for (const [over, opts] of [[{ total_fee: "1991" }, {}], [{ body: "Shop-Coffee" }, {}], [{ spbill_create_ip: "203.0.113.8" }, {}], [{}, { type: "HMAC-SHA256" as T }]] as const) {
      const r = await call("/pay/unifiedorder", order(over), opts);
      expect(r).toMatchObject({ return_code: "SUCCESS", result_code: "FAIL", err_code: "OUT_TRADE_NO_USED", err_code_des: "商户订单号重复" });
    }
    // an explicit sign_type=MD5 equals an absent one
    expect((await call("/pay/unifiedorder", order(), { signType: true })).result_code).toBe("SUCCESS");
  });

  it("ORDERPAID after payment, ORDERCLOSED after closeorder", async () => {
    const r = await call("/pay/unifiedorder", order());
    const payment = { timeStamp: "1736913600", nonceStr: "n1", package: `prepay_id=${r.prepay_id}`, signType: "MD5" };
    const paid = await simJson("/__sim/pay", { payment: { ...payment, paySign: officialSign({ appId: APPID, ...payment }, "MD5") }, notify: "none" });
    expect(paid.transactionId).toMatch(/^4200\d{24}$/);
    expect(await call("/pay/unifiedorder", order())).toMatchObject({ result_code: "FAIL", err_code: "ORDERPAID", err_code_des: "该订单已支付" });
    await call("/pay/unifiedorder", order({ out_trade_no: "C1" }));
    expect(await call("/pay/closeorder", { out_trade_no: "C1" })).toMatchObject({ result_code: "FAIL", err_code: "SYSTEMERROR" }); // < 5 min
    now += 300e3;
    expect(await call("/pay/closeorder", { out_trade_no: "C1" })).toMatchObject({ result_code: "SUCCESS", result_msg: "OK" });
    expect(await call("/pay/unifiedorder", order({ out_trade_no: "C1", time_expire: "" }))).toMatchObject({ result_code: "FAIL", err_code: "ORDERCLOSED" });
  });

  it("PARAM_ERROR: openid issued under another appid, time_expire < 5 min away, JSAPI without openid", async () => {
    const foreign = (await simJson("/__sim/openid", { user: "alice", appId: "wx_official_account_01" })).openid;
    expect(await call("/pay/unifiedorder", order({ openid: foreign }))).toMatchObject({ result_code: "FAIL", err_code: "PARAM_ERROR", err_code_des: "appid和openid不匹配" });
    expect(await call("/pay/unifiedorder", order({ time_expire: bj(now + 299e3) }))).toMatchObject({ err_code: "PARAM_ERROR", err_code_des: "time_expire时间过短，刷卡至少1分钟，其他5分钟" });
    expect((await call("/pay/unifiedorder", order({ time_expire: bj(now + 301e3) }))).result_code).toBe("SUCCESS");
    // a server that formats UTC instead of Beijing time: 8 h "earlier" → too short
    expect((await call("/pay/unifiedorder", order({ out_trade_no: "UTC1", time_expire: new Date(now + 30 * 60e3).toISOString().replace(/[-:T]/g, "").slice(0, 14) }))).err_code).toBe("PARAM_ERROR");
    expect(await call("/pay/unifiedorder", order({ out_trade_no: "NOOPENID", openid: "" }))).toMatchObject({ err_code: "PARAM_ERROR", err_code_des: "JSAPI支付必须传openid" });
  });

  it("envelope errors are return_code=FAIL, unsigned, with no result_code", async () => {
    const cases: [Record<string, string>, string][] = [
      [order({ body: "" }), "缺少参数"],
      [order({ notify_url: "" }), "缺少参数"],
      [order({ out_trade_no: "X".repeat(33) }), "out_trade_no参数长度有误"],
      [order({ body: "茶".repeat(43) }), "body参数长度有误"], // 129 UTF-8 bytes
      [{ ...order(), nonce_str: "n".repeat(33) }, "nonce_str参数长度有误"],
      [order({ total_fee: "19.90" }), "无法将输入源“/body/xml/total_fee”映射到目标字段“标价金额”中，此字段需要一个合法的 64 位有符号整数"],
      [order({ total_fee: "1e3" }), "无法将输入源“/body/xml/total_fee”映射到目标字段“标价金额”中，此字段需要一个合法的 64 位有符号整数"],
      [order({ notify_url: "https://shop.test/notify?x=1" }), "notify_url参数格式错误"],
      [{ ...order(), appid: "wx0000000000000001" }, "商户号mch_id与appid不匹配"],
    ];
    for (const [fields, msg] of cases) {
      const r = await call("/pay/unifiedorder", fields);
      expect(r, msg).toEqual({ return_code: "FAIL", return_msg: msg });
    }
    expect((await simJson("/__sim/orders")).orders).toEqual([]);
  });

  it("bad sign, GET, empty body, malformed XML, DOCTYPE, duplicate fields", async () => {
    const f: Record<string, string> = { appid: APPID, mch_id: MCH, nonce_str: "abc", ...order() };
    f.sign = officialSign(f, "MD5");
    const post = async (body: string | undefined, method = "POST") => parse(await (await sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method, body }))).text());
    expect(await post(toXml({ ...f, sign: f.sign.toLowerCase() }))).toEqual({ return_code: "FAIL", return_msg: "签名错误" });
    expect(await post(toXml({ ...f, sign: officialSign(f, "HMAC-SHA256") }))).toEqual({ return_code: "FAIL", return_msg: "签名错误" });
    expect(await post(toXml({ ...f, total_fee: "1" }))).toEqual({ return_code: "FAIL", return_msg: "签名错误" });
    expect(await post(undefined, "GET")).toEqual({ return_code: "FAIL", return_msg: "require POST method" });
    expect(await post("")).toEqual({ return_code: "FAIL", return_msg: "post数据为空" });
    expect(await post("<xml><appid>x</appid>")).toEqual({ return_code: "FAIL", return_msg: "XML格式错误" });
    expect(await post(`<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + toXml(f))).toEqual({ return_code: "FAIL", return_msg: "XML格式错误" });
    expect(await post(toXml(f).replace("</xml>", `<total_fee>1990</total_fee></xml>`))).toEqual({ return_code: "FAIL", return_msg: "XML格式错误" });
    expect(await post(toXml(f).replace("<body>", "<body><b>x</b>"))).toEqual({ return_code: "FAIL", return_msg: "XML格式错误" });
    // non-UTF-8 body
    const res = await sim.fetch(new Request("http://sim.test/pay/unifiedorder", { method: "POST", body: new Uint8Array([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xd6, 0xd0, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]) }));
    expect(parse(await res.text())).toEqual({ return_code: "FAIL", return_msg: "编码格式错误" });
    // and the genuine request still works, plain-text values and a leading declaration accepted
    const plain = `<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n` + Object.entries(f).map(([k, v]) => `  <${k}>${v.replace(/&/g, "&amp;")}</${k}>`).join("\n") + "\n</xml>";
    expect(await post(plain)).toMatchObject({ return_code: "SUCCESS", result_code: "SUCCESS" });
    // received log keeps everything, newest last
    const { requests } = await simJson("/__sim/received?path=/pay/unifiedorder");
    expect(requests).toHaveLength(11);
    expect(requests[10].fields.out_trade_no).toBe("T20250115001");
    expect(requests[3]).toMatchObject({ method: "GET", fields: null });
  });
});

describe("POST /pay/orderquery and /pay/closeorder", () => {
  it("NOTPAY is minimal; SUCCESS is full; REFUND after a refund; unknown → ORDERNOTEXIST", async () => {
    const r = await call("/pay/unifiedorder", order());
    const q1 = await call("/pay/orderquery", { out_trade_no: "T20250115001" });
    expect(q1).toMatchObject({ result_code: "SUCCESS", trade_state: "NOTPAY", trade_state_desc: "订单未支付", out_trade_no: "T20250115001", total_fee: "1990" });
    expect(q1.transaction_id).toBeUndefined();
    expect(q1.time_end).toBeUndefined();
    const payment = { timeStamp: "1736913600", nonceStr: "n1", package: `prepay_id=${r.prepay_id}`, signType: "MD5" };
    now += 42e3;
    const paid = await simJson("/__sim/pay", { payment: { ...payment, paySign: officialSign({ appId: APPID, ...payment }, "MD5") }, notify: "none" });
    for (const q of [await call("/pay/orderquery", { out_trade_no: "T20250115001" }), await call("/pay/orderquery", { transaction_id: paid.transactionId }, { type: "HMAC-SHA256" })]) {
      expect(q).toMatchObject({
        result_code: "SUCCESS", trade_state: "SUCCESS", trade_state_desc: "支付成功", transaction_id: paid.transactionId, out_trade_no: "T20250115001",
        total_fee: "1990", cash_fee: "1990", fee_type: "CNY", trade_type: "JSAPI", bank_type: "OTHERS", is_subscribe: "N", openid: sim.openidFor("alice"),
        attach: "cart=1", time_end: "20250115120042",
      });
    }
    expect(await call("/pay/closeorder", { out_trade_no: "T20250115001" })).toMatchObject({ result_code: "FAIL", err_code: "ORDERPAID" });
    expect((await call("/secapi/pay/refund", { out_trade_no: "T20250115001", out_refund_no: "R1", total_fee: "1990", refund_fee: "100" })).result_code).toBe("SUCCESS");
    expect((await call("/pay/orderquery", { out_trade_no: "T20250115001" })).trade_state).toBe("REFUND");
    expect(await call("/pay/orderquery", { out_trade_no: "NOPE" })).toMatchObject({ result_code: "FAIL", err_code: "ORDERNOTEXIST" });
    expect(await call("/pay/orderquery", {})).toEqual({ return_code: "FAIL", return_msg: "缺少参数" });
  });

  it("closeorder: NOTPAY → CLOSED after the minimum age (clock endpoint), closed → ORDERCLOSED, unknown → ORDERNOTEXIST", async () => {
    await call("/pay/unifiedorder", order());
    expect((await call("/pay/closeorder", { out_trade_no: "T20250115001" })).err_code).toBe("SYSTEMERROR");
    expect(await simJson("/__sim/clock", { advanceSeconds: 300 })).toMatchObject({ offsetMs: 300000 });
    expect((await call("/pay/closeorder", { out_trade_no: "T20250115001" })).result_code).toBe("SUCCESS");
    expect(await call("/pay/orderquery", { out_trade_no: "T20250115001" })).toMatchObject({ trade_state: "CLOSED", trade_state_desc: "订单已关闭" });
    expect(await call("/pay/closeorder", { out_trade_no: "T20250115001" })).toMatchObject({ result_code: "FAIL", err_code: "ORDERCLOSED" });
    expect(await call("/pay/closeorder", { out_trade_no: "NOPE" })).toMatchObject({ result_code: "FAIL", err_code: "ORDERNOTEXIST" });
    expect((await simJson("/__sim/orders/T20250115001")).state).toBe("CLOSED");
  });

  it("closeMinAgeSeconds: 0 closes immediately", async () => {
    sim.close();
    sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: "s", delivery: "outbox", now: () => now, closeMinAgeSeconds: 0 });
    await call("/pay/unifiedorder", order());
    expect((await call("/pay/closeorder", { out_trade_no: "T20250115001" })).result_code).toBe("SUCCESS");
  });
});
