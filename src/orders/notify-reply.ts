/**
 * What the two WeChat callbacks (payment and refund notifications) share: the reply they produce and
 * the first step of reading one, so both refuse unreadable or foreign envelopes the same way.
 */
import type { Config } from "../config";
import type { Fields } from "../wechatpay/sign";
import { failXml, readXml, XmlError } from "../wechatpay/xml";

export interface NotifyReply {
  status: 200 | 400 | 500;
  xml: string;
  /** For logs: what happened, never the body. */
  outcome: string;
  outTradeNo?: string;
}

/** 400 FAIL with a generic reason: WeChat learns nothing about our internals. */
export const refuse = (outcome: string, message = "invalid request"): NotifyReply => ({ status: 400, xml: failXml(message), outcome });

/**
 * 500 FAIL: a v2 callback while no WECHAT_PAY_KEY is set (possible under v3). It cannot be verified
 * now; WeChat retries, and the key may be set meanwhile (GET /health names the problem).
 */
export const noV2Key = (): NotifyReply => ({ status: 500, xml: failXml("service unavailable"), outcome: "no_v2_key" });

/**
 * Reads a callback body with the hardened reader and checks the envelope: `return_code`, and our
 * appid/mch_id when `checkMerchant` (the payment notify checks them itself, after the signature).
 * Returns the fields, or the refusal to send.
 */
export function readCallback(body: ArrayBuffer, config: Config, checkMerchant: boolean): Fields | NotifyReply {
  let fields: Fields;
  try {
    fields = readXml(body);
  } catch (error) {
    if (error instanceof XmlError) return refuse(`bad_xml:${error.code}`);
    throw error;
  }
  if (fields.return_code !== "SUCCESS") return refuse("return_code_not_success");
  if (checkMerchant && !isOurMerchant(fields, config)) return refuse("foreign_merchant");
  return fields;
}

export const isOurMerchant = (fields: Fields, config: Config) => fields.appid === config.appId && fields.mch_id === config.mchId;

/** Distinguishes a refusal from fields (a refusal carries `xml`; WeChat fields never do). */
export const isReply = (value: Fields | NotifyReply): value is NotifyReply => typeof (value as NotifyReply).status === "number";
