/**
 * WeChat's shipping-information service (发货信息管理,
 * https://developers.weixin.qq.com/miniprogram/dev/server/API/order_shipping/api_uploadshippinginfo.html):
 * the merchant's shipment as WeChat's `upload_shipping_info` body, checked first against WeChat's own
 * rules (so the merchant gets a 400 naming the field instead of a refusal later), and WeChat's
 * errcodes sorted into "try again" and "definitive". Pure: no I/O.
 */
import { beijingRfc3339 } from "../wechatpay/time";

export type LogisticsType = "express" | "same_city" | "virtual" | "pickup";
export const LOGISTICS_TYPES: readonly LogisticsType[] = ["express", "same_city", "virtual", "pickup"];
const LOGISTICS_CODE: Record<LogisticsType, number> = { express: 1, same_city: 2, virtual: 3, pickup: 4 };

export interface ShipmentItem {
  trackingNo?: string;
  expressCompany?: string;
  itemDesc: string;
  contact?: { consignorContact?: string; receiverContact?: string };
}

export interface ShipmentInput {
  logisticsType: LogisticsType;
  items: ShipmentItem[];
  /** Present: split delivery (express only), saying whether this completes the order. Absent: unified. */
  allDelivered: boolean | null;
}

const MAX_ITEMS = 15;
const MAX_ITEM_DESC = 120;
/** A phone number with everything but the last 4 digits masked, as WeChat requires (189****1234). */
const WECHAT_TEXT_PROBLEM = /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udfff]/u;
const MASKED_PHONE = /^[0-9+\- ]{0,8}\*{3,}[0-9]{4}$/;
const TEXT = /^[^\u0000-\u001f\u007f]{1,128}$/;

/** The problem with a shipment, naming the field, or null. */
export function shipmentProblem(input: ShipmentInput): string | null {
  const { logisticsType, items, allDelivered } = input;
  if (items.length < 1 || items.length > MAX_ITEMS) return `items must have 1 to ${MAX_ITEMS} entries`;
  if (allDelivered === null && items.length !== 1) return "items: a unified delivery has exactly one entry (send allDelivered for a split delivery)";
  if (allDelivered !== null && logisticsType !== "express") return "allDelivered: only an express delivery can be split";
  for (const [i, item] of items.entries()) {
    const at = `items[${i}]`;
    if ([...item.itemDesc].length < 1 || [...item.itemDesc].length > MAX_ITEM_DESC) return `${at}.itemDesc must be 1 to ${MAX_ITEM_DESC} characters`;
    if (WECHAT_TEXT_PROBLEM.test(item.itemDesc)) return `${at}.itemDesc must be well-formed text without control characters`;
    if (logisticsType === "express") {
      if (!item.trackingNo) return `${at}.trackingNo is required for an express delivery`;
      if (!item.expressCompany) return `${at}.expressCompany is required for an express delivery`;
    }
    for (const [name, value] of [["trackingNo", item.trackingNo], ["expressCompany", item.expressCompany]] as const) {
      if (value !== undefined && !TEXT.test(value)) return `${at}.${name} must be 1 to 128 characters without control characters`;
    }
    const contact = item.contact;
    if (item.expressCompany?.toUpperCase() === "SF" && !contact?.consignorContact && !contact?.receiverContact) {
      return `${at}.contact is required when expressCompany is SF (a masked phone, e.g. 189****1234)`;
    }
    for (const [name, value] of [["consignorContact", contact?.consignorContact], ["receiverContact", contact?.receiverContact]] as const) {
      if (value !== undefined && !MASKED_PHONE.test(value)) return `${at}.contact.${name} must be a masked phone with its last 4 digits, e.g. 189****1234`;
    }
  }
  return null;
}

/** The upload_shipping_info body for a paid order (order_number_type 2: by transaction_id). */
export function uploadShippingBody(input: ShipmentInput, order: { transactionId: string; openid: string }, now: Date) {
  return {
    order_key: { order_number_type: 2, transaction_id: order.transactionId },
    logistics_type: LOGISTICS_CODE[input.logisticsType],
    delivery_mode: input.allDelivered === null ? 1 : 2,
    ...(input.allDelivered === null ? {} : { is_all_delivered: input.allDelivered }),
    shipping_list: input.items.map((item) => ({
      ...(item.trackingNo ? { tracking_no: item.trackingNo } : {}),
      ...(item.expressCompany ? { express_company: item.expressCompany } : {}),
      item_desc: item.itemDesc,
      ...(item.contact
        ? {
            contact: {
              ...(item.contact.consignorContact ? { consignor_contact: item.contact.consignorContact } : {}),
              ...(item.contact.receiverContact ? { receiver_contact: item.contact.receiverContact } : {}),
            },
          }
        : {}),
    })),
    upload_time: beijingRfc3339(now),
    payer: { openid: order.openid },
  };
}

/**
 * errcodes worth another try later: system busy (-1, 10060012, 10060019 "系统繁忙，请稍后重试",
 * 44990), rate limits (45009, 45011). Everything else WeChat answers is a definitive refusal of this
 * upload (order not found, re-ship chance used, not shippable, bad fields, service not enabled for the
 * account: 10060001, 10060003, 10060004, 48001, …), which only the merchant can resolve.
 */
const RETRYABLE_ERRCODES = new Set([-1, 10060012, 10060019, 44990, 45009, 45011]);
export const isRetryableErrcode = (errcode: number) => RETRYABLE_ERRCODES.has(errcode);

/**
 * 10060023 "发货信息未更新": WeChat already holds exactly this upload (a retry after a reply that was
 * lost, or a concurrent attempt): the shipment is uploaded.
 */
export const ALREADY_UPLOADED_ERRCODE = 10060023;
