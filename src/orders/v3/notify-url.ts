/** Where WeChat sends v3 notifications for this deployment. */
import type { Config } from "../../config";

/**
 * The v3 notify_url of a payment or refund: `/wechat/v3/pay/notify` or `/wechat/v3/refund/notify`
 * on the origin of WECHAT_NOTIFY_URL / WECHAT_REFUND_NOTIFY_URL when set (they name the public
 * origin of the v2 callbacks, so the v3 ones live beside them), else on the request's origin.
 */
export function v3NotifyUrl(config: Config, origin: string, kind: "pay" | "refund"): string {
  const configured = kind === "pay" ? config.notifyUrl : config.refundNotifyUrl;
  return `${configured ? new URL(configured).origin : origin}/wechat/v3/${kind}/notify`;
}
