// The WeChat endpoints the simulator answers (any host): mini-program login, the access token and
// shipping-information calls of api.weixin.qq.com, and the Pay API v2 and v3 calls of api.mch.weixin.qq.com.

/** api.weixin.qq.com: the mini-program login (code → openid + session_key). */
export const LOGIN_PATH = "/sns/jscode2session";

/** api.weixin.qq.com: the stable access token (getStableAccessToken). */
export const TOKEN_PATH = "/cgi-bin/stable_token";

/** api.weixin.qq.com: the shipping-information service (发货信息管理), JSON POSTs with ?access_token=. */
export const SHIPPING_PATHS = [
  "/wxa/sec/order/upload_shipping_info",
  "/wxa/sec/order/get_order",
  "/wxa/sec/order/is_trade_managed",
  "/wxa/sec/order/is_trade_management_confirmation_completed",
] as const;
export type ShippingPath = (typeof SHIPPING_PATHS)[number];

/** api.mch.weixin.qq.com: the Pay API v2 calls, each a signed flat-XML POST. */
export const API_PATHS = ["/pay/unifiedorder", "/pay/orderquery", "/pay/closeorder", "/secapi/pay/refund", "/pay/refundquery", "/pay/downloadbill"] as const;
export type ApiPath = (typeof API_PATHS)[number];

/** True for one of the Pay API v2 paths above. */
export function isApiPath(path: string): path is ApiPath {
  return (API_PATHS as readonly string[]).includes(path);
}

/** True for one of the shipping-information paths above. */
export function isShippingPath(path: string): path is ShippingPath {
  return (SHIPPING_PATHS as readonly string[]).includes(path);
}

/** api.mch.weixin.qq.com: the Pay API v3 routes (signed JSON), as templates with their {path parameters}. */
export const V3_PATHS = [
  "/v3/pay/transactions/jsapi",
  "/v3/pay/transactions/out-trade-no/{out_trade_no}",
  "/v3/pay/transactions/id/{transaction_id}",
  "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
  "/v3/refund/domestic/refunds",
  "/v3/refund/domestic/refunds/{out_refund_no}",
  "/v3/bill/tradebill",
  "/v3/billdownload/file",
  "/v3/certificates",
] as const;
export type V3Path = (typeof V3_PATHS)[number];

/** True for one of the Pay API v3 route templates above. */
export function isV3Path(path: string): path is V3Path {
  return (V3_PATHS as readonly string[]).includes(path);
}

/** Every simulated path (what POST /__sim/faults accepts; API v3 routes by their template). */
export const ALL_PATHS: readonly string[] = [LOGIN_PATH, TOKEN_PATH, ...SHIPPING_PATHS, ...API_PATHS, ...V3_PATHS];
