// What the WeChat client checks when a mini program calls wx.requestPayment for an API v3 order:
// signType "RSA" and paySign = base64 SHA256-RSA over appId\ntimeStamp\nnonceStr\npackage\n with the
// merchant's API key, verified with the merchant certificate WeChat holds
// (https://pay.weixin.qq.com/docs/merchant/apis/mini-program-payment/mini-transfer-payment.html).
import { ControlError } from "../replies.ts";
import type { Order, SimState } from "../state.ts";
import { paySignMessage, verifyRsa } from "./crypto.ts";

/** The wx.requestPayment parameters the control API receives. */
export type PaymentParams = Record<"timeStamp" | "nonceStr" | "package" | "signType" | "paySign", string>;

/** Refuses (400 ControlError, "支付验证签名失败: …") a v3 paySign that the WeChat client would refuse. */
export function checkV3PaySign(s: SimState, order: Order, pay: PaymentParams): void {
  if (!/^\d{10}$/.test(pay.timeStamp)) throw new ControlError(400, "BAD_TIMESTAMP", `支付验证签名失败: timeStamp must be Unix seconds as a 10-digit string, got ${JSON.stringify(pay.timeStamp)}`);
  if (pay.nonceStr.length > 32) throw new ControlError(400, "BAD_NONCE", "nonceStr must be at most 32 characters");
  if (pay.signType !== "RSA") throw new ControlError(400, "BAD_SIGN_TYPE", `支付验证签名失败: an API v3 order is paid with signType RSA, got ${JSON.stringify(pay.signType)}`);
  const message = paySignMessage(order.appId, pay.timeStamp, pay.nonceStr, pay.package);
  if (!verifyRsa(message, pay.paySign, s.v3.merchantPublicKey)) {
    throw new ControlError(400, "BAD_PAYSIGN", `支付验证签名失败: paySign does not verify over appId=${order.appId}\\ntimeStamp\\nnonceStr\\npackage\\n with the merchant certificate ${s.v3.merchantSerial} (RSA)`);
  }
}
