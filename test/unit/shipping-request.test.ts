// The upload_shipping_info body built from a merchant's shipment: order_key by transaction_id, the
// logistics and delivery-mode codes, Beijing RFC 3339 upload_time, the payer's openid; and the
// errcodes that are worth another try.
import { describe, expect, it } from "vitest";
import { isRetryableErrcode, shipmentProblem, uploadShippingBody } from "../../src/miniprogram/shipping";

const order = { transactionId: "4200001234202612021234567890", openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" };

describe("uploadShippingBody", () => {
  it("a unified express delivery", () => {
    const body = uploadShippingBody(
      { logisticsType: "express", allDelivered: null, items: [{ trackingNo: "SF1", expressCompany: "SF", itemDesc: "茶", contact: { receiverContact: "189****1234" } }] },
      order,
      new Date(Date.UTC(2026, 11, 2, 16, 30, 5)),
    );
    expect(body).toEqual({
      order_key: { order_number_type: 2, transaction_id: order.transactionId },
      logistics_type: 1,
      delivery_mode: 1,
      shipping_list: [{ tracking_no: "SF1", express_company: "SF", item_desc: "茶", contact: { receiver_contact: "189****1234" } }],
      upload_time: "2026-12-03T00:30:05+08:00",
      payer: { openid: order.openid },
    });
  });

  it("a split delivery says whether it is complete; virtual goods carry only a description", () => {
    const split = uploadShippingBody(
      { logisticsType: "express", allDelivered: false, items: [{ trackingNo: "T1", expressCompany: "YTO", itemDesc: "a" }, { trackingNo: "T2", expressCompany: "YTO", itemDesc: "b" }] },
      order,
      new Date(0),
    );
    expect(split).toMatchObject({ delivery_mode: 2, is_all_delivered: false });
    const virtual = uploadShippingBody({ logisticsType: "virtual", allDelivered: null, items: [{ itemDesc: "E-book" }] }, order, new Date(0));
    expect(virtual).toMatchObject({ logistics_type: 3, delivery_mode: 1, shipping_list: [{ item_desc: "E-book" }] });
    expect(virtual.upload_time).toBe("1970-01-01T08:00:00+08:00");
  });
});

describe("shipmentProblem and errcodes", () => {
  it("counts item_desc in characters, not bytes (120 CJK characters pass)", () => {
    expect(shipmentProblem({ logisticsType: "virtual", allDelivered: null, items: [{ itemDesc: "茶".repeat(120) }] })).toBeNull();
    expect(shipmentProblem({ logisticsType: "virtual", allDelivered: null, items: [{ itemDesc: "茶".repeat(121) }] })).toMatch(/itemDesc/);
  });
  it("only busy and rate limits are retried; a refusal is definitive", () => {
    expect([-1, 45009, 45011].map(isRetryableErrcode)).toEqual([true, true, true]);
    expect([10060001, 10060003, 10060004, 48001, 268485228].map(isRetryableErrcode)).toEqual([false, false, false, false, false]);
  });
});
