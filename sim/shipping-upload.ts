// Reading an upload_shipping_info body (uploadShippingInfo): JSON types (a wrong type → 47001, as
// WeChat answers e.g. a shipping_list object or a delivery_mode string), then the documented errcodes
// in a fixed order (sim/README.md lists it). Nothing here looks at the order: sim/shipping.ts does.
// Errcodes and limits: developers.weixin.qq.com/miniprogram/dev/server/API/order_shipping/api_uploadshippinginfo.html
import type { Package } from "./state.ts";
import { wxError } from "./wxapi.ts";

/** A well-formed upload. `key` is everything but upload_time (an identical re-upload → 10060023). */
export interface Upload {
  orderKey: { type: 1; mchid: string; outTradeNo: string } | { type: 2; transactionId: string };
  logisticsType: number;
  deliveryMode: number;
  isAllDelivered: boolean | undefined;
  packages: Omit<Package, "uploadedAt">[];
  uploadTime: number;
  openid: string;
  key: string;
}

const MAX_PACKAGES = 15;
const ITEM_DESC_MAX_CHARS = 120;
const FIELD_MAX_BYTES = 128;
const CONTACT_MAX = 1024;

class DataFormatError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The value of `o[k]` when it is absent or of type `type`; anything else is a 47001. */
function typed<T>(o: Obj, k: string, type: "string" | "number" | "boolean" | "object" | "array"): T | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  const ok = type === "array" ? Array.isArray(v) : type === "object" ? isObj(v) : type === "number" ? typeof v === "number" && Number.isInteger(v) : typeof v === type;
  if (!ok) throw new DataFormatError(k);
  return v as T;
}

/** RFC 3339 date-time with a "T", seconds, optional fraction and a zone; a real calendar time. */
export function parseRfc3339(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(v);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  const t = Date.parse(v.toUpperCase());
  return Number.isNaN(t) ? null : t;
}

/** A masked contact: at least one "*", and the last 4 digits (dashes aside) in clear, e.g. 189****1234. */
export function isMaskedContact(v: string): boolean {
  return v.length <= CONTACT_MAX && v.includes("*") && /\d{4}$/.test(v.replace(/-/g, ""));
}

const bytes = (v: string) => Buffer.byteLength(v, "utf8");

/** The error answer of a documented errcode, with the reason as a hint. */
function refuse(errcode: number, desc: string, hint?: string): Response {
  return wxError(errcode, hint ? `${desc}, hint: [${hint}]` : desc);
}

/** The body read with its JSON types checked (a wrong type anywhere → 47001 before any other errcode). */
interface Shape {
  type: number | undefined;
  transactionId: string;
  mchid: string;
  outTradeNo: string;
  logisticsType: number;
  deliveryMode: number;
  isAllDelivered: boolean | undefined;
  items: Upload["packages"];
  uploadTime: string;
  openid: string;
}

function shape(b: Obj): Shape {
  const k = typed<Obj>(b, "order_key", "object") ?? {};
  const list = typed<unknown[]>(b, "shipping_list", "array") ?? [];
  const items = list.map((item, i) => {
    if (!isObj(item)) throw new DataFormatError(`shipping_list[${i}]`);
    const contact = typed<Obj>(item, "contact", "object") ?? {};
    return {
      trackingNo: typed<string>(item, "tracking_no", "string") ?? "",
      expressCompany: typed<string>(item, "express_company", "string") ?? "",
      itemDesc: typed<string>(item, "item_desc", "string") ?? "",
      consignorContact: typed<string>(contact, "consignor_contact", "string") ?? "",
      receiverContact: typed<string>(contact, "receiver_contact", "string") ?? "",
    };
  });
  const payer = typed<Obj>(b, "payer", "object") ?? {};
  return {
    type: typed<number>(k, "order_number_type", "number"),
    transactionId: typed<string>(k, "transaction_id", "string") ?? "",
    mchid: typed<string>(k, "mchid", "string") ?? "",
    outTradeNo: typed<string>(k, "out_trade_no", "string") ?? "",
    logisticsType: typed<number>(b, "logistics_type", "number") ?? 0,
    deliveryMode: typed<number>(b, "delivery_mode", "number") ?? 0,
    isAllDelivered: typed<boolean>(b, "is_all_delivered", "boolean"),
    items,
    uploadTime: typed<string>(b, "upload_time", "string") ?? "",
    openid: typed<string>(payer, "openid", "string") ?? "",
  };
}

function checkOrderKey(r: Shape): Upload["orderKey"] | Response {
  if (r.type === 2) return r.transactionId ? { type: 2, transactionId: r.transactionId } : refuse(268485195, "微信支付单号形式下 transaction_id 字段不能为空");
  if (r.type !== 1) return refuse(268485194, "订单单号类型非法");
  if (!r.mchid) return refuse(268485196, "商户侧单号形式下 mchid 字段不能为空");
  if (!r.outTradeNo) return refuse(268485197, "商户侧单号形式下 out_trade_no 字段不能为空");
  return { type: 1, mchid: r.mchid, outTradeNo: r.outTradeNo };
}

/** The refusal of one shipping_list item, or null. */
function checkPackage(p: Upload["packages"][number], i: number, express: boolean): Response | null {
  const at = `shipping_list[${i}]`;
  if (p.itemDesc.trim() === "") return refuse(10060008, "商品描述 item_desc 字段不能为空", `${at}.item_desc`);
  if ([...p.itemDesc].length > ITEM_DESC_MAX_CHARS) return refuse(10060009, "商品描述 item_desc 字段太长", `${at}.item_desc is over ${ITEM_DESC_MAX_CHARS} characters`);
  if (express && !p.trackingNo) return refuse(268485226, "物流单号不能为空", `${at}.tracking_no`);
  if (express && !p.expressCompany) return refuse(268485227, "物流公司编码不能为空", `${at}.express_company`);
  if (bytes(p.trackingNo) > FIELD_MAX_BYTES) return refuse(10060026, "物流单号太长", `${at}.tracking_no`);
  if (bytes(p.expressCompany) > FIELD_MAX_BYTES) return refuse(10060025, "物流公司编码太长", `${at}.express_company`);
  for (const [name, v] of [["consignor_contact", p.consignorContact], ["receiver_contact", p.receiverContact]] as const) {
    if (v && !isMaskedContact(v)) return refuse(10060014, "参数错误", `${at}.contact.${name} must be masked, the last 4 digits in clear (189****1234)`);
  }
  if (p.expressCompany === "SF" && !p.consignorContact && !p.receiverContact) return refuse(10060014, "参数错误", `${at}.contact is required for SF (顺丰)`);
  return null;
}

function checkShipping(r: Shape): Response | null {
  const { logisticsType, deliveryMode, items } = r;
  if (![1, 2, 3, 4].includes(logisticsType)) return refuse(10060005, "物流类型有误");
  if (deliveryMode !== 1 && deliveryMode !== 2) return refuse(268485224, "发货模式非法");
  if (deliveryMode === 2 && logisticsType !== 1) return refuse(10060006, "非快递发货时不允许分拆发货");
  if (deliveryMode === 2 && r.isAllDelivered === undefined) return refuse(10060007, "分拆发货模式下必须填写 is_all_delivered 字段");
  if (items.length === 0) return refuse(10060014, "参数错误", "shipping_list needs 1 to 15 items");
  if (items.length > MAX_PACKAGES) return refuse(10060024, "物流信息列表太长");
  if (deliveryMode === 1 && items.length !== 1) return refuse(268485228, "统一发货模式下，物流信息列表长度必须为 1");
  for (const [i, p] of items.entries()) {
    const refused = checkPackage(p, i, logisticsType === 1);
    if (refused) return refused;
  }
  return null;
}

/** Reads and checks an upload_shipping_info body: the Upload, or WeChat's error answer. */
export function readUpload(b: Obj): Upload | Response {
  let r: Shape;
  try {
    r = shape(b);
  } catch (e) {
    if (e instanceof DataFormatError) return wxError(47001, `data format error, hint: [${e.message} has the wrong type]`);
    throw e;
  }
  const orderKey = checkOrderKey(r);
  if (orderKey instanceof Response) return orderKey;
  const refused = checkShipping(r);
  if (refused) return refused;
  const uploadTime = parseRfc3339(r.uploadTime);
  if (uploadTime === null) return refuse(268485216, "上传时间非法，请按照 RFC 3339 格式填写");
  if (!r.openid || bytes(r.openid) > FIELD_MAX_BYTES) return refuse(10060014, "参数错误", "payer.openid");
  const shipping = { logisticsType: r.logisticsType, deliveryMode: r.deliveryMode, isAllDelivered: r.isAllDelivered, packages: r.items };
  return { orderKey, ...shipping, uploadTime, openid: r.openid, key: JSON.stringify([orderKey, shipping, r.openid]) };
}
