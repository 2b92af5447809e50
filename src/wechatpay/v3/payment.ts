/**
 * The parameters `wx.requestPayment` takes for a v3 prepay_id
 * (https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/mini-transfer-payment.html):
 * paySign = base64(RSASSA-PKCS1-v1_5-SHA256(merchant API private key, `appId\ntimeStamp\nnonceStr\npackage\n`)),
 * signType "RSA" (passed, not signed). Same shape as v2's src/wechatpay/payment.ts.
 */
import { nonceStr as newNonce } from "../ids";
import { signMessage } from "./sign";

/** Exactly what the mini program passes to `wx.requestPayment` (appId is signed, not returned). */
export interface RequestPaymentV3 {
  /** Unix seconds as a string (10 digits, never milliseconds). */
  timeStamp: string;
  nonceStr: string;
  /** `prepay_id=<prepay_id>`. */
  package: string;
  signType: "RSA";
  /** base64 RSA signature. */
  paySign: string;
}

/** Inputs for {@link buildRequestPaymentV3}; `now` and `nonce` exist for deterministic tests. */
export interface RequestPaymentV3Input {
  /** The appid the prepay used (WeChat checks they match). */
  appId: string;
  prepayId: string;
  /** The merchant API private key (importMerchantPrivateKey). */
  privateKey: CryptoKey;
  now?: Date;
  nonce?: string;
}

/** `appId\ntimeStamp\nnonceStr\npackage\n`: the signed string, every line ending in `\n`. */
export function paySignMessage(appId: string, timeStamp: string, nonceStr: string, pkg: string): string {
  return `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
}

/**
 * Signs the payment package. Empty appId or prepayId throw: a package built from them would only
 * fail later on the user's phone. A fresh timeStamp and paySign are fine for the same prepay_id
 * (re-invoking payment within its 2 hours).
 */
export async function buildRequestPaymentV3(input: RequestPaymentV3Input): Promise<RequestPaymentV3> {
  if (!input.appId || !input.prepayId) throw new TypeError("appId and prepayId are required");
  const seconds = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new RangeError("invalid time");
  const timeStamp = String(seconds);
  const nonceStr = input.nonce ?? newNonce(32);
  const pkg = `prepay_id=${input.prepayId}`;
  const paySign = await signMessage(input.privateKey, paySignMessage(input.appId, timeStamp, nonceStr, pkg));
  return { timeStamp, nonceStr, package: pkg, signType: "RSA", paySign };
}
