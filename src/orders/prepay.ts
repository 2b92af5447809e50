/**
 * Getting `wx.requestPayment` parameters for a NOTPAY order: reuse its prepay_id while WeChat still
 * honours it, otherwise (re-)enter unifiedorder with exactly the parameters of the first call — same
 * out_trade_no, amount, body, times, notify_url, IP — which WeChat treats as the same order.
 */
import { ApiError, upstreamError } from "../errors";
import { logEvent } from "../log";
import { insertEvent } from "../store/events";
import { getOrder, savePrepayId, type OrderRow } from "../store/orders";
import type { PayCallResult } from "../wechatpay/client";
import { buildRequestPayment, type RequestPayment } from "../wechatpay/payment";
import type { RequestPaymentV3 } from "../wechatpay/v3/payment";
import type { Fields } from "../wechatpay/sign";
import { v2KeyMissing, type Deps } from "./deps";
import { applyTradeReport } from "./transition";
import { assertV3Configured, confirmWithQueryV3, paymentV3, requestPrepayIdV3 } from "./v3/payment";

/** WeChat keeps a prepay_id for 2 h (v2 and v3); stop reusing it a little before, so the user never gets an expired one. */
const PREPAY_REUSE_MS = 2 * 3600_000 - 10 * 60_000;

/** The unifiedorder business fields of an order, rebuilt identically from its row. */
export function unifiedOrderParams(order: OrderRow): Fields {
  const params: Fields = {
    body: order.description,
    out_trade_no: order.out_trade_no,
    total_fee: String(order.total_fee),
    spbill_create_ip: order.client_ip,
    notify_url: order.notify_url,
    trade_type: "JSAPI",
    openid: order.openid,
    time_start: order.time_start,
    time_expire: order.time_expire,
  };
  if (order.attach) params.attach = order.attach;
  return params;
}

export class OrderNotPayableError extends ApiError {
  constructor(message: string) {
    super(409, "ORDER_NOT_PAYABLE", message);
  }
}

/**
 * Returns the payment parameters for a payable order, calling WeChat only when needed, with the
 * API the order was placed with (v3: RSA paySign, src/orders/v3/payment.ts).
 */
export async function ensurePayment(deps: Deps, order: OrderRow): Promise<RequestPayment | RequestPaymentV3> {
  const now = deps.now().getTime();
  if (order.status !== "NOTPAY") throw new OrderNotPayableError(`order is ${order.status}`);
  if (order.expires_at <= now) throw new OrderNotPayableError("order has expired; place a new one");
  // Credentials first: nothing is asked of WeChat for a payment this deployment could not sign.
  if (order.api === "v3") assertV3Configured(deps);
  else if (deps.config.payKey === null) throw v2KeyMissing();

  // One reuse rule for both APIs: the prepay_id while WeChat still honours it, else a re-entry.
  let prepayId = order.prepay_id;
  if (!prepayId || order.prepay_at === null || now - order.prepay_at >= PREPAY_REUSE_MS) {
    prepayId = order.api === "v3" ? await requestPrepayIdV3(deps, order) : await requestPrepayId(deps, order);
    await savePrepayId(deps.db, order.out_trade_no, prepayId, now);
  }
  if (order.api === "v3") return paymentV3(deps, prepayId);
  return buildRequestPayment({
    appId: deps.config.appId,
    prepayId,
    key: deps.config.payKey as string, // checked above
    signType: order.sign_type,
    now: deps.now(),
  });
}

async function requestPrepayId(deps: Deps, order: OrderRow): Promise<string> {
  const client = deps.payClient(order.sign_type);
  const params = unifiedOrderParams(order);
  let result = await client.unifiedOrder(params);
  // SYSTEMERROR means "try again with the same parameters": once, right away.
  if (!result.ok && result.kind === "result_fail" && result.errCode === "SYSTEMERROR") {
    result = await client.unifiedOrder(params);
  }
  if (result.ok) {
    const prepayId = result.data.prepay_id;
    if (!prepayId) throw upstreamError("WeChat returned no prepay_id");
    return prepayId;
  }
  logEvent("unifiedorder_failed", { outTradeNo: order.out_trade_no, kind: result.kind, errCode: errCodeOf(result) });
  if (result.kind === "result_fail") {
    switch (result.errCode) {
      case "ORDERPAID": {
        // Paid already (e.g. from another device): confirm with orderquery and record it.
        await confirmWithQuery(deps, order.out_trade_no);
        throw new OrderNotPayableError("order is already paid");
      }
      case "ORDERCLOSED":
        await applyTradeReport(deps, "unifiedorder", { out_trade_no: order.out_trade_no, trade_state: "CLOSED" });
        throw new OrderNotPayableError("order is closed; place a new one");
      case "OUT_TRADE_NO_USED":
      case "INVALID_REQUEST":
        // Our parameters differ from what WeChat holds for this out_trade_no: never expected,
        // since they are rebuilt from the stored row. Record it for a human.
        await insertEvent(deps.db, {
          identity: `anomaly:unifiedorder:${result.errCode}:${order.out_trade_no}`,
          kind: "unifiedorder",
          verdict: "anomaly",
          outTradeNo: order.out_trade_no,
          detail: { reason: result.errCode.toLowerCase(), err_code_des: result.errCodeDes },
          createdAt: deps.now().getTime(),
        });
        throw new OrderNotPayableError("WeChat refused this order's parameters; place a new order");
    }
  }
  if (result.kind === "transport" && result.message === "timeout") {
    throw new ApiError(504, "UPSTREAM_ERROR", "WeChat did not answer in time; try again");
  }
  throw upstreamError();
}

/** orderquery (v3: the query by out_trade_no) → the one transition function. Returns the order as D1 now has it. */
export async function confirmWithQuery(deps: Deps, outTradeNo: string, source: "order_query" | "reconcile" = "order_query"): Promise<OrderRow | null> {
  const order = await getOrder(deps.db, outTradeNo);
  if (!order) return null;
  if (order.api === "v3") return confirmWithQueryV3(deps, order, source);
  const result = await deps.payClient(order.sign_type).orderQuery({ outTradeNo });
  if (result.ok) {
    await applyTradeReport(deps, source, result.data);
    return getOrder(deps.db, outTradeNo);
  }
  logEvent("orderquery_failed", { outTradeNo, kind: result.kind, errCode: errCodeOf(result) });
  return order;
}

function errCodeOf(result: PayCallResult): string | null {
  return !result.ok && result.kind === "result_fail" ? result.errCode : null;
}
