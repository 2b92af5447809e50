// Playing the user: POST /__sim/pay does what wx.requestPayment and the WeChat client do — find the
// order by the prepay_id in `package`, check the paySign, pay (or fail) — and sends the payment
// notification, signed like WeChat's (pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=9_7), or for
// an API v3 order its TRANSACTION.SUCCESS callback (sim/v3/callbacks.ts; a failed v3 payment has none).
import { isSignType, paySign, randomDigits, randomNonce, sign, signEquals } from "./crypto.ts";
import type { SignType } from "./crypto.ts";
import { ControlError } from "./replies.ts";
import type { Order, SimState } from "./state.ts";
import { beijingCompact, beijingDate } from "./time.ts";
import { paidFields, prepayExpiresAt } from "./trades.ts";
import { enqueueTransactionCallback } from "./v3/callbacks.ts";
import { checkV3PaySign } from "./v3/paysign.ts";
import type { PaymentParams } from "./v3/paysign.ts";
import { buildXml } from "./xml.ts";

const NOTIFY_MODES = ["normal", "none", "duplicate", "concurrent"] as const;
export type NotifyMode = (typeof NOTIFY_MODES)[number];

/** The payment notification: fields in ASCII order, signed with the order's algorithm, sign_type only on request. */
function payNotifyXml(s: SimState, order: Order, result: "SUCCESS" | "FAIL", includeSignType: boolean): string {
  const f: Record<string, string | undefined> = {
    appid: order.appId,
    mch_id: order.mchId,
    nonce_str: randomNonce(32),
    result_code: result,
    err_code: result === "FAIL" ? "PAYERROR" : undefined,
    err_code_des: result === "FAIL" ? "支付失败" : undefined,
    return_code: "SUCCESS",
    sign_type: includeSignType ? order.signType : undefined,
    ...paidFields(s, order),
  };
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(f).sort()) if (f[k] !== undefined) sorted[k] = f[k] as string;
  sorted.sign = sign(sorted, s.options.apiKey, order.signType as SignType); // a v2 order: MD5 or HMAC-SHA256
  return buildXml(sorted);
}

/** Validates the JSON body of POST /__sim/pay (everything but the order itself). */
function readPayRequest(body: Record<string, unknown>): { pay: PaymentParams; result: "SUCCESS" | "FAIL"; notify: NotifyMode; copies: number } {
  const p = body.payment as Record<string, unknown> | undefined;
  if (!p || typeof p !== "object") throw new ControlError(400, "BAD_REQUEST", "body.payment is required: exactly what the backend returned for wx.requestPayment");
  for (const k of ["timeStamp", "nonceStr", "package", "signType", "paySign"]) {
    if (typeof p[k] !== "string" || p[k] === "") throw new ControlError(400, "MISSING_PARAM", `调用支付JSAPI缺少参数: payment.${k} must be a non-empty string`);
  }
  const result = body.result ?? "SUCCESS";
  if (result !== "SUCCESS" && result !== "FAIL") throw new ControlError(400, "BAD_REQUEST", "result must be SUCCESS or FAIL");
  return { pay: p as PaymentParams, result, ...readNotifyMode(body) };
}

/**
 * The `notify` ("normal" | "none" | "duplicate" | "concurrent") and `copies` of a control body that sends
 * a notification (copies default 2 for duplicate, 3 for concurrent; 1..50).
 */
export function readNotifyMode(body: Record<string, unknown>): { notify: NotifyMode; copies: number } {
  const notify = body.notify ?? "normal";
  if (!(NOTIFY_MODES as readonly unknown[]).includes(notify)) throw new ControlError(400, "BAD_REQUEST", "notify must be normal, none, duplicate or concurrent");
  const copies = body.copies ?? (notify === "concurrent" ? 3 : 2);
  if (typeof copies !== "number" || !Number.isInteger(copies) || copies < 1 || copies > 50) throw new ControlError(400, "BAD_REQUEST", "copies must be an integer 1..50");
  return { notify: notify as NotifyMode, copies };
}

/** The order a wx.requestPayment call may pay, or the ControlError the WeChat client would show. */
function payableOrder(s: SimState, pay: PaymentParams, t: number): Order {
  const m = /^prepay_id=(.+)$/.exec(pay.package);
  if (!m) throw new ControlError(400, "BAD_PACKAGE", `调用支付JSAPI缺少参数: total_fee (package must be "prepay_id=<prepay_id>", got ${JSON.stringify(pay.package)})`);
  const prepay = s.prepays.get(m[1] as string);
  const order = prepay ? s.orders.get(prepay.outTradeNo) : undefined;
  if (!prepay || !order) throw new ControlError(404, "UNKNOWN_PREPAY_ID", `unknown prepay_id ${JSON.stringify(m[1])}`);
  if (order.state === "SUCCESS" || order.state === "REFUND") throw new ControlError(409, "ORDER_PAID", `order ${order.outTradeNo} is already paid`);
  if (order.state === "CLOSED") throw new ControlError(409, "ORDER_CLOSED", `order ${order.outTradeNo} is closed`);
  if (order.state === "PAYERROR") throw new ControlError(409, "ORDER_PAYERROR", `order ${order.outTradeNo} failed to pay; place a new order`);
  if (order.tradeType !== "JSAPI") throw new ControlError(400, "NOT_JSAPI", `order ${order.outTradeNo} is ${order.tradeType}; only JSAPI orders are paid with wx.requestPayment`);
  if (order.prepayId !== m[1] || t >= prepayExpiresAt(s, prepay.issuedAt)) {
    throw new ControlError(410, "PREPAY_EXPIRED", `该订单已过期，请重新下单 (prepay_id older than ${s.options.prepayValiditySeconds} s or replaced)`);
  }
  if (order.timeExpireMs !== null && t >= order.timeExpireMs) throw new ControlError(410, "ORDER_EXPIRED", `该订单已过期，请重新下单 (past time_expire ${order.timeExpire})`);
  return order;
}

/** Checks the paySign as the WeChat client does: over the order's appId, timeStamp, nonceStr, package, signType. */
function checkPaySign(s: SimState, order: Order, pay: PaymentParams): void {
  if (!/^\d{10}$/.test(pay.timeStamp)) throw new ControlError(400, "BAD_TIMESTAMP", `支付验证签名失败: timeStamp must be Unix seconds as a 10-digit string, got ${JSON.stringify(pay.timeStamp)}`);
  if (pay.nonceStr.length > 32) throw new ControlError(400, "BAD_NONCE", "nonceStr must be at most 32 characters");
  if (!isSignType(pay.signType)) throw new ControlError(400, "BAD_SIGN_TYPE", `支付验证签名失败: signType must be MD5 or HMAC-SHA256, got ${JSON.stringify(pay.signType)}`);
  if (pay.signType !== order.signType) throw new ControlError(400, "SIGN_TYPE_MISMATCH", `支付验证签名失败: signType ${pay.signType} differs from the unifiedorder sign type ${order.signType}`);
  const expected = paySign({ appId: order.appId, timeStamp: pay.timeStamp, nonceStr: pay.nonceStr, package: pay.package, signType: pay.signType }, s.options.apiKey);
  if (!signEquals(expected, pay.paySign)) {
    throw new ControlError(400, "BAD_PAYSIGN", `支付验证签名失败: paySign does not verify over appId=${order.appId}, timeStamp, nonceStr, package, signType with the API key (${pay.signType})`);
  }
}

/** POST /__sim/pay: the user pays (or fails to pay) an order; returns the control API's JSON answer. */
export function payInWechat(s: SimState, body: Record<string, unknown>) {
  const { pay, result, notify, copies } = readPayRequest(body);
  const t = s.now();
  const order = payableOrder(s, pay, t);
  if (order.api === "v3") checkV3PaySign(s, order, pay);
  else checkPaySign(s, order, pay);
  order.transactionId = "42000" + randomDigits(5) + beijingDate(t) + randomDigits(10);
  order.timeEnd = beijingCompact(t);
  order.paidAt = t;
  order.state = result === "SUCCESS" ? "SUCCESS" : "PAYERROR";
  s.byTransactionId.set(order.transactionId, order);
  let deliveryIds: string[] = [];
  if (notify !== "none" && order.api === "v3") {
    if (result === "SUCCESS") deliveryIds = enqueueTransactionCallback(s, order, { mode: notify, copies });
  } else if (notify !== "none") {
    const xml = payNotifyXml(s, order, result, body.includeSignType === true);
    deliveryIds = s.notifier.enqueueCopies({ kind: "pay", url: order.notifyUrl, body: xml, outTradeNo: order.outTradeNo, outRefundNo: null }, notify, copies);
  }
  s.log(`pay ${order.outTradeNo} ${result} → ${order.transactionId}, ${deliveryIds.length} notification(s)`);
  return { outTradeNo: order.outTradeNo, transactionId: order.transactionId, state: order.state, deliveryIds };
}
