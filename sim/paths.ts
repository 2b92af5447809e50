// The WeChat endpoints the simulator answers (any host): mini-program login and the Pay API v2 calls.

/** api.weixin.qq.com: the mini-program login (code → openid + session_key). */
export const LOGIN_PATH = "/sns/jscode2session";

/** api.mch.weixin.qq.com: the Pay API v2 calls, each a signed flat-XML POST. */
export const API_PATHS = ["/pay/unifiedorder", "/pay/orderquery", "/pay/closeorder", "/secapi/pay/refund", "/pay/refundquery", "/pay/downloadbill"] as const;
export type ApiPath = (typeof API_PATHS)[number];

/** True for one of the Pay API v2 paths above. */
export function isApiPath(path: string): path is ApiPath {
  return (API_PATHS as readonly string[]).includes(path);
}
