// The shipping-information service (发货信息管理) of api.weixin.qq.com for the paid orders the simulator
// knows: upload_shipping_info (rules of re-shipping and updates), get_order (order_state 1 to-ship ·
// 2 shipped · 3 confirmed · 4 settled · 5 refunded), is_trade_managed and
// is_trade_management_confirmation_completed. The user confirming receipt and settlement are control
// actions (sim/shipping-control.ts). Docs: developers.weixin.qq.com/miniprogram/dev/server/API/order_shipping/
import type { ShippingPath } from "./paths.ts";
import type { NotifyMode } from "./payment.ts";
import { sendPush, settlementFields } from "./push.ts";
import { readUpload } from "./shipping-upload.ts";
import type { Upload } from "./shipping-upload.ts";
import type { Order, Shipment, SimState } from "./state.ts";
import { wxError, wxReply } from "./wxapi.ts";
import type { WxCall } from "./wxapi.ts";

/** get_order's order_state: 1 to ship · 2 shipped · 3 confirmed · 4 settled · 5 refunded. */
export type OrderState = 1 | 2 | 3 | 4 | 5;

/** Estimated settlement at shipping time: shipped + 10 days (WeChat's automatic confirmation of receipt). */
export const ESTIMATED_SETTLEMENT_DAYS = 10;

const DESCRIPTION_MAX_CHARS = 120;
const seconds = (ms: number) => Math.floor(ms / 1000);
const NOT_FOUND = "支付单不存在";

/** A paid order (it has a transaction_id) by its transaction_id. */
export function paidOrder(s: SimState, transactionId: string): Order | undefined {
  return s.byTransactionId.get(transactionId);
}

/** The order_state get_order shows: refunded in full wins, then settled, confirmed, shipped, to-ship. */
export function orderState(order: Order, shipment: Shipment | undefined): OrderState {
  const refunded = order.refunds.filter((r) => r.status === "SUCCESS").reduce((sum, r) => sum + r.refundFee, 0);
  if (refunded >= order.totalFee) return 5;
  if (shipment?.settledAt != null) return 4;
  if (shipment?.confirmedAt != null) return 3;
  return shipment?.finished ? 2 : 1;
}

/** The `order` object of get_order. */
export function orderView(s: SimState, order: Order) {
  const sh = s.shipments.get(order.transactionId as string);
  const chars = [...order.body];
  return {
    transaction_id: order.transactionId,
    merchant_id: order.mchId,
    merchant_trade_no: order.outTradeNo,
    description: chars.length > DESCRIPTION_MAX_CHARS ? chars.slice(0, DESCRIPTION_MAX_CHARS).join("") + "..." : order.body,
    paid_amount: order.totalFee,
    openid: order.openid,
    trade_create_time: seconds(order.createdAt),
    pay_time: seconds(order.paidAt ?? 0),
    order_state: orderState(order, sh),
    in_complaint: false,
    shipping: {
      delivery_mode: sh?.deliveryMode ?? 0,
      logistics_type: sh?.logisticsType ?? 0,
      finish_shipping: sh?.finished ?? false,
      goods_desc: "",
      finish_shipping_count: sh?.finishCount ?? 0,
      shipping_list: (sh?.packages ?? []).map((p) => ({
        tracking_no: p.trackingNo,
        express_company: p.expressCompany,
        goods_desc: p.itemDesc,
        upload_time: seconds(p.uploadedAt),
        contact: { consignor_contact: p.consignorContact, receiver_contact: p.receiverContact },
      })),
    },
  };
}

/** The paid order an order_key names (mchid must be the configured merchant), or undefined. */
function orderFor(s: SimState, key: Upload["orderKey"]): Order | undefined {
  if (key.type === 2) return paidOrder(s, key.transactionId);
  const order = key.mchid === s.options.mchId ? s.orders.get(key.outTradeNo) : undefined;
  return order?.transactionId ? order : undefined;
}

/** The shipping-time trade_manage_order_settlement push (no settlement_time); its delivery ids. */
export function pushShipped(s: SimState, order: Order, shipment: Shipment, estimatedSettlementAt?: number, mode: { notify: NotifyMode; copies: number } = { notify: "normal", copies: 1 }): string[] {
  const estimated = estimatedSettlementAt ?? (shipment.shippedAt ?? s.now()) + ESTIMATED_SETTLEMENT_DAYS * 86400_000;
  return sendPush(s, "trade_manage_order_settlement", settlementFields(order, shipment, { estimatedSettlementAt: estimated }), order, mode);
}

/**
 * POST /wxa/sec/order/upload_shipping_info. An upload completing shipping again (or changing the
 * delivery or logistics mode) is the one re-shipping chance; an upload equal to the last one (all but
 * upload_time) answers 10060023 and changes nothing; an update must not carry an earlier upload_time than the last.
 */
function uploadShippingInfo(s: SimState, call: WxCall): Response {
  if (!s.tradeManaged) return wxError(48001, "api unauthorized");
  const u = readUpload(call.body);
  if (u instanceof Response) return u;
  const order = orderFor(s, u.orderKey);
  if (!order) return wxError(10060001, NOT_FOUND);
  if (u.openid !== order.openid) return wxError(10060031, "该笔支付单不属于 openid 所指定的用户");
  const txid = order.transactionId as string;
  const prev = s.shipments.get(txid);
  if (orderState(order, prev) >= 3) return wxError(10060004, "支付单处于不可发货的状态");
  if (prev && prev.lastKey === u.key) return wxError(10060023, "发货信息未更新");
  if (prev && u.uploadTime < prev.lastUploadTime) return wxError(10060014, "参数错误, hint: [upload_time must not be earlier than the previous upload's]");
  const reship = prev !== undefined && (prev.finished || prev.logisticsType !== u.logisticsType || prev.deliveryMode !== u.deliveryMode);
  if (reship && prev.reshipUsed) return wxError(10060003, "支付单已使用重新发货机会");
  const now = s.now();
  const finished = u.deliveryMode === 1 || u.isAllDelivered === true;
  const completesShipping = finished && (!prev?.finished || reship);
  const shipment: Shipment = {
    transactionId: txid,
    logisticsType: u.logisticsType,
    deliveryMode: u.deliveryMode,
    finished,
    finishCount: (prev?.finishCount ?? 0) + (completesShipping ? 1 : 0),
    packages: u.packages.map((p) => ({ ...p, uploadedAt: now })),
    lastUploadTime: u.uploadTime,
    lastKey: u.key,
    reshipUsed: (prev?.reshipUsed ?? false) || reship,
    shippedAt: completesShipping ? now : (prev?.shippedAt ?? null),
    confirmedAt: null,
    confirmMethod: null,
    settledAt: null,
  };
  s.shipments.set(txid, shipment);
  s.log(`shipping ${order.outTradeNo} → ${finished ? "shipped" : "partly shipped"}${reship ? " (re-ship)" : ""}`);
  if (completesShipping && s.options.autoPushOnShipping) {
    if (s.push.token) pushShipped(s, order, shipment);
    else s.log("autoPushOnShipping: no push Token configured, no push sent");
  }
  return wxReply({ errcode: 0, errmsg: "ok" });
}

/** POST /wxa/sec/order/get_order: {transaction_id} or {merchant_id, merchant_trade_no}. */
function getOrder(s: SimState, call: WxCall): Response {
  if (!s.tradeManaged) return wxError(48001, "api unauthorized");
  const b = call.body;
  for (const k of ["transaction_id", "merchant_id", "sub_merchant_id", "merchant_trade_no"]) {
    if (b[k] !== undefined && typeof b[k] !== "string") return wxError(47001, `data format error, hint: [${k} has the wrong type]`);
  }
  let order: Order | undefined;
  if (b.transaction_id) order = paidOrder(s, b.transaction_id as string);
  else if (b.merchant_id && b.merchant_trade_no) order = b.merchant_id === s.options.mchId ? s.orders.get(b.merchant_trade_no as string) : undefined;
  else return wxError(10060014, "参数错误, hint: [transaction_id, or merchant_id and merchant_trade_no]");
  if (!order?.transactionId) return wxError(10060001, NOT_FOUND);
  return wxReply({ errcode: 0, errmsg: "ok", order: orderView(s, order) });
}

/** The two "is the mini program enrolled" queries: {appid} of this mini program only. */
function appFlag(field: string, value: (s: SimState) => boolean) {
  return (s: SimState, call: WxCall): Response => {
    const appid = call.body.appid;
    if (appid !== undefined && typeof appid !== "string") return wxError(47001, "data format error");
    if (!appid) return wxError(40097, "invalid args");
    if (appid !== s.options.appId) return wxError(40013, "invalid appid");
    return wxReply({ errcode: 0, errmsg: "ok", [field]: value(s) });
  };
}

/** The handler of each shipping path (sim/core.ts routes to them through sim/wxapi.ts). */
export const SHIPPING_HANDLERS: Record<ShippingPath, (s: SimState, call: WxCall) => Response> = {
  "/wxa/sec/order/upload_shipping_info": uploadShippingInfo,
  "/wxa/sec/order/get_order": getOrder,
  "/wxa/sec/order/is_trade_managed": appFlag("is_trade_managed", (s) => s.tradeManaged),
  "/wxa/sec/order/is_trade_management_confirmation_completed": appFlag("completed", (s) => s.confirmationCompleted),
};
