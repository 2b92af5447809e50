/**
 * The second signature: the parameters `wx.requestPayment` takes (https://pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=7_7).
 */
import { nonceStr as newNonce } from "./ids";
import { sign, type SignType } from "./sign";

/** Exactly what the mini program passes to `wx.requestPayment` (appId is signed, not returned). */
export interface RequestPayment {
  /** Unix seconds as a string (10 digits, never milliseconds). */
  timeStamp: string;
  nonceStr: string;
  /** `prepay_id=<prepay_id>`. */
  package: string;
  /** Must equal the sign type unifiedorder used. */
  signType: SignType;
  /** Uppercase hex signature over appId, timeStamp, nonceStr, package, signType. */
  paySign: string;
}

/** Inputs for {@link buildRequestPayment}; `now` and `nonce` exist for deterministic tests. */
export interface RequestPaymentInput {
  appId: string;
  prepayId: string;
  key: string;
  signType: SignType;
  now?: Date;
  nonce?: string;
}

/**
 * Signs the five camelCase fields with the v2 algorithm. Empty appId, prepayId or key throw: a
 * payment package built from them would only fail later on the user's phone.
 */
export async function buildRequestPayment(input: RequestPaymentInput): Promise<RequestPayment> {
  if (!input.appId || !input.prepayId || !input.key) throw new TypeError("appId, prepayId and key are required");
  const now = input.now ?? new Date();
  const seconds = Math.floor(now.getTime() / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new RangeError("invalid time");
  const timeStamp = String(seconds);
  const nonceStr = input.nonce ?? newNonce(32);
  const pkg = `prepay_id=${input.prepayId}`;
  const paySign = await sign(
    { appId: input.appId, timeStamp, nonceStr, package: pkg, signType: input.signType },
    input.key,
    input.signType,
  );
  return { timeStamp, nonceStr, package: pkg, signType: input.signType, paySign };
}
