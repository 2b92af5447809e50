// The shipping-information service: upload_shipping_info (every documented errcode the simulator
// produces, re-shipping, updates), get_order reflecting the state, is_trade_managed and
// is_trade_management_confirmation_completed, and the enrolment switches.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { APPID, MCH } from "./peer.ts";
import { accessToken, control, getOrder, makeSim, paidOrder, upload, uploadBody, uploadTime, wx } from "./shipping-peer.ts";

const errcodes = JSON.parse(readFileSync(new URL("../fixtures/wechat-miniprogram-push/errcodes_official_doc.json", import.meta.url), "utf8"));
const documented = new Set([...Object.keys(errcodes.upload_shipping_info), ...Object.keys(errcodes.common)].map(Number));
const UPLOAD = "/wxa/sec/order/upload_shipping_info";
const item = (over: Record<string, unknown> = {}) => ({ tracking_no: "YT100", express_company: "YTO", item_desc: "绿茶*2", ...over });

describe("upload_shipping_info", () => {
  it("by transaction_id: ok, and get_order shows it shipped with the package", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S1", { totalFee: "2590" });
    const before = await getOrder(sim, o.transactionId);
    expect(before).toMatchObject({ transaction_id: o.transactionId, merchant_id: MCH, merchant_trade_no: "S1", description: "Shop-Tea", paid_amount: 2590, openid: o.openid, order_state: 1, in_complaint: false });
    expect(before.shipping).toEqual({ delivery_mode: 0, logistics_type: 0, finish_shipping: false, goods_desc: "", finish_shipping_count: 0, shipping_list: [] });
    expect(before.pay_time).toBeGreaterThanOrEqual(before.trade_create_time);
    expect(await upload(sim, uploadBody(o))).toEqual({ errcode: 0, errmsg: "ok" });
    const after = await getOrder(sim, o.transactionId);
    expect(after.order_state).toBe(2);
    expect(after.shipping).toMatchObject({ delivery_mode: 1, logistics_type: 1, finish_shipping: true, finish_shipping_count: 1 });
    expect(after.shipping.shipping_list).toEqual([
      { tracking_no: "SF1234567890", express_company: "SF", goods_desc: "红茶*1", upload_time: expect.any(Number), contact: { consignor_contact: "", receiver_contact: "189****1234" } },
    ]);
  });

  it("by mchid + out_trade_no, and get_order by merchant_id + merchant_trade_no", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S2");
    const r = await upload(sim, uploadBody(o, { order_key: { order_number_type: 1, mchid: MCH, out_trade_no: "S2" }, logistics_type: 3, shipping_list: [{ item_desc: "会员卡" }] }));
    expect(r.errcode).toBe(0);
    const g = await wx(sim, "/wxa/sec/order/get_order", { merchant_id: MCH, merchant_trade_no: "S2" }, await accessToken(sim));
    expect(g.order).toMatchObject({ transaction_id: o.transactionId, order_state: 2, shipping: { logistics_type: 3, delivery_mode: 1 } });
  });

  it("split delivery: not finished until is_all_delivered; that completion is no re-ship", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S3");
    const split = (all: boolean, list: unknown[]) => uploadBody(o, { delivery_mode: 2, is_all_delivered: all, shipping_list: list });
    expect((await upload(sim, split(false, [item()]))).errcode).toBe(0);
    expect(await getOrder(sim, o.transactionId)).toMatchObject({ order_state: 1, shipping: { delivery_mode: 2, finish_shipping: false, finish_shipping_count: 0 } });
    expect((await upload(sim, split(true, [item(), item({ tracking_no: "YT101" })]))).errcode).toBe(0);
    const g = await getOrder(sim, o.transactionId);
    expect(g).toMatchObject({ order_state: 2, shipping: { finish_shipping: true, finish_shipping_count: 1 } });
    expect(g.shipping.shipping_list.map((p: { tracking_no: string }) => p.tracking_no)).toEqual(["YT100", "YT101"]);
    expect((await control(sim, `/__sim/shipping/${o.transactionId}`)).body.reshipUsed).toBe(false);
  });

  it("one re-ship after shipping (10060003 after that); an identical upload is 10060023 and uses nothing", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S4");
    const first = uploadBody(o);
    expect((await upload(sim, first)).errcode).toBe(0);
    const same = await upload(sim, { ...first, upload_time: uploadTime() });
    expect([same.errcode, same.errmsg]).toEqual([10060023, expect.stringMatching(/^发货信息未更新 rid: /)]);
    expect((await upload(sim, first)).errcode).toBe(10060023); // a retried request after a lost reply
    expect((await upload(sim, uploadBody(o, { shipping_list: [item()] }))).errcode).toBe(0); // the re-ship
    expect(await getOrder(sim, o.transactionId)).toMatchObject({ order_state: 2, shipping: { finish_shipping_count: 2, shipping_list: [{ tracking_no: "YT100" }] } });
    const third = await upload(sim, uploadBody(o, { shipping_list: [item({ tracking_no: "YT102" })] }));
    expect([third.errcode, third.errmsg]).toEqual([10060003, expect.stringMatching(/^支付单已使用重新发货机会/)]);
    expect((await getOrder(sim, o.transactionId)).shipping.shipping_list[0].tracking_no).toBe("YT100");
  });

  it("changing the logistics mode while not finished is the re-ship; an older upload_time is refused", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S5");
    const late = uploadTime();
    expect((await upload(sim, uploadBody(o, { delivery_mode: 2, is_all_delivered: false, shipping_list: [item()], upload_time: late }))).errcode).toBe(0);
    const older = await upload(sim, uploadBody(o, { delivery_mode: 2, is_all_delivered: true, shipping_list: [item()], upload_time: "2020-01-01T00:00:00+08:00" }));
    expect([older.errcode, older.errmsg]).toEqual([10060014, expect.stringContaining("upload_time")]);
    expect((await upload(sim, uploadBody(o, { logistics_type: 2, shipping_list: [item()] }))).errcode).toBe(0);
    expect((await control(sim, `/__sim/shipping/${o.transactionId}`)).body).toMatchObject({ reshipUsed: true, order: { order_state: 2, shipping: { logistics_type: 2 } } });
  });

  it("unknown, unpaid or another merchant's order → 10060001; another user's openid → 10060031", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S6");
    const nf = await upload(sim, uploadBody(o, { order_key: { order_number_type: 2, transaction_id: "4200000000000000000000000000" } }));
    expect([nf.errcode, nf.errmsg]).toEqual([10060001, expect.stringMatching(/^支付单不存在 rid: /)]);
    expect((await upload(sim, uploadBody(o, { order_key: { order_number_type: 1, mchid: "19999999", out_trade_no: "S6" } }))).errcode).toBe(10060001);
    const { placeOrder } = await import("./peer.ts");
    await placeOrder(sim, "S6-unpaid");
    expect((await upload(sim, uploadBody(o, { order_key: { order_number_type: 1, mchid: MCH, out_trade_no: "S6-unpaid" } }))).errcode).toBe(10060001);
    const other = await upload(sim, uploadBody({ ...o, openid: sim.openidFor("bob") }));
    expect([other.errcode, other.errmsg]).toEqual([10060031, expect.stringMatching(/^该笔支付单不属于 openid 所指定的用户/)]);
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(1);
  });

  it("every malformed body gets its documented errcode and changes nothing", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S7");
    const base = uploadBody(o);
    const cases: [Record<string, unknown>, number][] = [
      [{ order_key: { order_number_type: 3, transaction_id: o.transactionId } }, 268485194],
      [{ order_key: undefined }, 268485194],
      [{ order_key: { order_number_type: 2 } }, 268485195],
      [{ order_key: { order_number_type: 1, out_trade_no: "S7" } }, 268485196],
      [{ order_key: { order_number_type: 1, mchid: MCH } }, 268485197],
      [{ logistics_type: 5 }, 10060005],
      [{ logistics_type: undefined }, 10060005],
      [{ delivery_mode: 3 }, 268485224],
      [{ delivery_mode: 2, logistics_type: 2, is_all_delivered: true }, 10060006],
      [{ delivery_mode: 2 }, 10060007],
      [{ shipping_list: [] }, 10060014],
      [{ delivery_mode: 2, is_all_delivered: true, shipping_list: Array.from({ length: 16 }, () => item()) }, 10060024],
      [{ shipping_list: [item(), item()] }, 268485228],
      [{ shipping_list: [item({ item_desc: " " })] }, 10060008],
      [{ shipping_list: [item({ item_desc: "茶".repeat(121) })] }, 10060009],
      [{ shipping_list: [item({ tracking_no: undefined })] }, 268485226],
      [{ shipping_list: [item({ express_company: "" })] }, 268485227],
      [{ shipping_list: [item({ tracking_no: "9".repeat(129) })] }, 10060026],
      [{ shipping_list: [item({ express_company: "X".repeat(129) })] }, 10060025],
      [{ shipping_list: [item({ express_company: "SF" })] }, 10060014], // SF needs a contact
      [{ shipping_list: [item({ contact: { receiver_contact: "18912341234" } })] }, 10060014], // not masked
      [{ shipping_list: [item({ contact: { consignor_contact: "189****12**" } })] }, 10060014], // last 4 masked
      [{ upload_time: "2026-03-01 10:00:00" }, 268485216],
      [{ upload_time: "2026-02-30T10:00:00+08:00" }, 268485216],
      [{ upload_time: undefined }, 268485216],
      [{ payer: { openid: "" } }, 10060014],
      [{ payer: undefined }, 10060014],
      // JSON types: WeChat answers 47001 (e.g. shipping_list as an object, delivery_mode as a string)
      [{ shipping_list: item() }, 47001],
      [{ delivery_mode: "UNIFIED_DELIVERY" }, 47001],
      [{ is_all_delivered: "true" }, 47001],
      [{ logistics_type: 1.5 }, 47001],
      [{ payer: "o123" }, 47001],
      [{ shipping_list: ["x"] }, 47001],
      [{ shipping_list: [item({ contact: "189****1234" })] }, 47001],
      [{ order_key: { order_number_type: "2", transaction_id: o.transactionId } }, 47001],
    ];
    const token = await accessToken(sim);
    for (const [over, code] of cases) {
      const r = await wx(sim, UPLOAD, { ...base, ...over }, token);
      expect(r.errcode, JSON.stringify(over)).toBe(code);
      expect(r.errmsg).toMatch(/ rid: \w{8}-\w{8}-\w{8}$/);
      expect(documented.has(code), `${code} is in the documented tables`).toBe(true);
    }
    expect((await wx(sim, UPLOAD, "{not json", token)).errcode).toBe(47001);
    expect((await wx(sim, UPLOAD, "", token)).errcode).toBe(44002);
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(1);
    // accepted variants: a masked landline, an RFC 3339 time in UTC with a fraction, a 120-character item_desc
    const ok = await wx(sim, UPLOAD, { ...base, upload_time: "2026-03-01T02:00:00.120Z", shipping_list: [item({ item_desc: "茶".repeat(120), contact: { consignor_contact: "0**2-******23-10" } })] }, token);
    expect(ok.errcode).toBe(0);
  });

  it("confirmed, settled or refunded orders are not shippable (10060004)", async () => {
    const sim = makeSim({ pushToken: "PushToken2024" });
    const o = await paidOrder(sim, "S8");
    expect((await upload(sim, uploadBody(o))).errcode).toBe(0);
    expect((await control(sim, "/__sim/shipping/confirm", { transactionId: o.transactionId, settle: false })).body.orderState).toBe(3);
    const r = await upload(sim, uploadBody(o, { shipping_list: [item()] }));
    expect([r.errcode, r.errmsg]).toEqual([10060004, expect.stringMatching(/^支付单处于不可发货的状态/)]);
  });

  it("not enrolled (is_trade_managed false): upload and get_order answer 48001", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "S9");
    expect((await control(sim, "/__sim/shipping/settings", { tradeManaged: false })).body).toEqual({ tradeManaged: false, confirmationCompleted: true });
    expect((await upload(sim, uploadBody(o))).errcode).toBe(48001);
    expect((await wx(sim, "/wxa/sec/order/get_order", { transaction_id: o.transactionId }, await accessToken(sim))).errcode).toBe(48001);
    await control(sim, "/__sim/reset", {});
    expect((await control(sim, "/__sim/shipping/settings")).body).toEqual({ tradeManaged: true, confirmationCompleted: true });
  });
});

describe("get_order", () => {
  it("refusals: nothing to find by (10060014), unknown (10060001), wrong merchant (10060001), wrong types (47001)", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "G1");
    const token = await accessToken(sim);
    const get = (body: unknown) => wx(sim, "/wxa/sec/order/get_order", body, token);
    expect((await get({})).errcode).toBe(10060014);
    expect((await get({ merchant_trade_no: "G1" })).errcode).toBe(10060014);
    expect((await get({ transaction_id: "4200000000000000000000000001" })).errcode).toBe(10060001);
    expect((await get({ merchant_id: "19999999", merchant_trade_no: "G1" })).errcode).toBe(10060001);
    expect((await get({ transaction_id: 4200 })).errcode).toBe(47001);
    expect((await get({ merchant_id: MCH, merchant_trade_no: "G1" })).order.transaction_id).toBe(o.transactionId);
  });

  it("description: the order body, cut at 120 characters with ...; a full refund shows order_state 5", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "G2", { body: "T".repeat(125) }); // body: 127 bytes at most, so ASCII
    expect((await getOrder(sim, o.transactionId)).description).toBe("T".repeat(120) + "...");
    const { KEY, officialSign, toXml } = await import("./peer.ts");
    const f: Record<string, string> = { appid: APPID, mch_id: MCH, nonce_str: "r1", transaction_id: o.transactionId, out_refund_no: "RG2", total_fee: "1", refund_fee: "1" };
    f.sign = officialSign(f, "MD5", KEY);
    await sim.fetch(new Request("http://sim.test/secapi/pay/refund", { method: "POST", body: toXml(f) }));
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(1); // accepted, not yet refunded
    await control(sim, "/__sim/refunds/complete", { outRefundNo: "RG2", notify: "none" });
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(5);
    expect((await upload(sim, uploadBody(o))).errcode).toBe(10060004);
  });
});

describe("is_trade_managed and is_trade_management_confirmation_completed", () => {
  it("answer the switches for this appid; 40097 without one, 40013 for another", async () => {
    const sim = makeSim();
    const token = await accessToken(sim);
    const ask = (path: string, body: unknown) => wx(sim, `/wxa/sec/order/${path}`, body, token);
    expect(await ask("is_trade_managed", { appid: APPID })).toEqual({ errcode: 0, errmsg: "ok", is_trade_managed: true });
    expect(await ask("is_trade_management_confirmation_completed", { appid: APPID })).toEqual({ errcode: 0, errmsg: "ok", completed: true });
    await control(sim, "/__sim/shipping/settings", { tradeManaged: false, confirmationCompleted: false });
    expect((await ask("is_trade_managed", { appid: APPID })).is_trade_managed).toBe(false);
    expect((await ask("is_trade_management_confirmation_completed", { appid: APPID })).completed).toBe(false);
    for (const path of ["is_trade_managed", "is_trade_management_confirmation_completed"]) {
      expect((await ask(path, {})).errcode).toBe(40097);
      expect((await ask(path, { appid: "wx0000000000000000" })).errcode).toBe(40013);
      expect((await ask(path, { appid: 1 })).errcode).toBe(47001);
      for (const code of [40097, 40013]) expect(Object.keys(errcodes.is_trade_managed)).toContain(String(code));
    }
    expect((await control(sim, "/__sim/shipping/settings", { tradeManaged: "no" })).status).toBe(400);
  });
});
