/**
 * The payment side of an order placed with API v3: the JSAPI prepay (re-entered with exactly the
 * parameters of the first call, rebuilt from the row, so WeChat treats it as the same order), the
 * `wx.requestPayment` parameters (RSA paySign), and the query that confirms what WeChat knows. The
 * reuse and re-entry rules are v2's (src/orders/prepay.ts); replies feed the same transition.
 */
import { insertEvent } from "../../store/events";
import { getOrder, type OrderRow } from "../../store/orders";
import { beijingRfc3339, parseBeijingTimestamp } from "../../wechatpay/time";
import type { JsapiPrepayRequest } from "../../wechatpay/v3/client";
import { buildRequestPaymentV3, type RequestPaymentV3 } from "../../wechatpay/v3/payment";
import { importMerchantPrivateKey } from "../../wechatpay/v3/pem";
import type { Deps } from "../deps";
import { OrderNotPayableError } from "../prepay";
import { applyTradeReport } from "../transition";
import { v3NotConfigured } from "./access";
import { errorCode, logV3Failure, upstreamFailure, verifiedCode } from "./failure";
import { applyTransaction } from "./trade-report";

/**
 * The prepay body of an order, rebuilt identically from its row: description, attach and notify_url
 * as stored, the amount in fen, the payer's openid, and time_expire = the stored Beijing
 * `yyyyMMddHHmmss` as RFC 3339 (`…+08:00`), the same instant every time.
 */
function jsapiPrepayRequest(order: OrderRow): JsapiPrepayRequest {
  const request: JsapiPrepayRequest = {
    description: order.description,
    out_trade_no: order.out_trade_no,
    time_expire: beijingRfc3339(parseBeijingTimestamp(order.time_expire)),
    notify_url: order.notify_url,
    amount: { total: order.total_fee },
    payer: { openid: order.openid },
  };
  if (order.attach) request.attach = order.attach;
  return request;
}

/**
 * The `wx.requestPayment` parameters for a v3 prepay_id: a fresh timeStamp and RSA paySign every time
 * (WeChat allows that for one prepay_id). Throws CONFIG_ERROR without v3 credentials; the caller
 * checks that first ({@link assertV3Configured}), before anything is asked of WeChat.
 */
export async function paymentV3(deps: Deps, prepayId: string): Promise<RequestPaymentV3> {
  const v3 = assertV3Configured(deps);
  const privateKey = await importMerchantPrivateKey(v3.merchantPrivateKeyPem);
  return buildRequestPaymentV3({ appId: deps.config.appId, prepayId, privateKey, now: deps.now() });
}

/** The v3 credentials, or CONFIG_ERROR: a payment we could not sign is never prepaid. */
export function assertV3Configured(deps: Deps) {
  const v3 = deps.config.v3;
  if (!v3) throw v3NotConfigured();
  return v3;
}

/** A prepay_id for a payable v3 order: the JSAPI prepay, re-entered with the row's parameters. */
export async function requestPrepayIdV3(deps: Deps, order: OrderRow): Promise<string> {
  const client = await deps.v3Client();
  const request = jsapiPrepayRequest(order);
  let result = await client.prepayJsapi(request);
  // SYSTEM_ERROR means "try again with the same parameters": once, right away (as v2 does).
  if (!result.ok && errorCode(result) === "SYSTEM_ERROR") result = await client.prepayJsapi(request);
  if (result.ok) return result.data.prepay_id;

  logV3Failure("prepay_v3_failed", { outTradeNo: order.out_trade_no }, result);
  const code = errorCode(result);
  if (code === "ORDERPAID" || code === "ORDER_PAID") {
    // Paid already (e.g. from another device): confirm with the query and record it.
    await confirmWithQueryV3(deps, order, "order_query");
    throw new OrderNotPayableError("order is already paid");
  }
  if (code === "ORDER_CLOSED" && verifiedCode(result)) {
    await applyTradeReport(deps, "unifiedorder", { out_trade_no: order.out_trade_no, trade_state: "CLOSED" });
    throw new OrderNotPayableError("order is closed; place a new one");
  }
  if (code === "OUT_TRADE_NO_USED" || code === "INVALID_REQUEST") {
    // WeChat holds other parameters for this out_trade_no: never expected, since they are rebuilt
    // from the stored row. Record it for a human (as v2 does).
    await insertEvent(deps.db, {
      identity: `anomaly:unifiedorder:${code}:${order.out_trade_no}`,
      kind: "unifiedorder",
      verdict: "anomaly",
      outTradeNo: order.out_trade_no,
      detail: { reason: code.toLowerCase(), api: "v3", message: result.kind === "api_error" ? result.error.wechatMessage : null },
      createdAt: deps.now().getTime(),
    });
    throw new OrderNotPayableError("WeChat refused this order's parameters; place a new order");
  }
  throw upstreamFailure(result);
}

/**
 * Queries WeChat Pay v3 for the order and applies the answer through the one transition; returns
 * the order as D1 now has it (unchanged when the query failed: logged, the cron retries).
 */
export async function confirmWithQueryV3(deps: Deps, order: OrderRow, source: "order_query" | "reconcile"): Promise<OrderRow | null> {
  const result = await (await deps.v3Client()).queryByOutTradeNo(order.out_trade_no);
  if (result.ok) {
    await applyTransaction(deps, source, result.data);
    return getOrder(deps.db, order.out_trade_no);
  }
  logV3Failure("orderquery_v3_failed", { outTradeNo: order.out_trade_no }, result);
  return order;
}
