// Buying, without any UI: create the order once per purchase intent, open WeChat Pay, then let the
// server say whether it is paid. The page shows progress through the `onStage` callback
// ("ordering", "paying", "checking") and the outcome through the resolved `status`.
const { request, isTransient } = require("./api");
const { simulatorRequestPayment } = require("./dev-payment");

/** Order states after which nothing more happens to a payment (a REFUNDED order was paid first). */
const SETTLED = ["PAID", "REFUNDED", "CLOSED"];
/** How long confirm() keeps asking after WeChat said "paid"; the page then keeps checking itself. */
const CONFIRM_FOR_MS = 20000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const noop = () => {};

/**
 * A purchase intent: what the user buys and one Idempotency-Key for every attempt to buy it. Reuse
 * the intent when the same purchase is tried again (a lost answer, a repeated tap): the server then
 * answers with the same order instead of creating a second one. Start a new intent once the purchase
 * has ended (paid, closed, cancelled).
 */
function newIntent(items, attach) {
  const key = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
  return { items, attach: attach || undefined, key };
}

/** POST /api/orders with the intent's key; only "no answer at all" is retried (with the same key). */
async function createOrder(intent) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request("POST", "/api/orders", { items: intent.items, attach: intent.attach }, { "Idempotency-Key": intent.key });
    } catch (error) {
      if (error.code !== "NETWORK_ERROR" || attempt >= 2) throw error;
      await sleep(1000 * (attempt + 1));
    }
  }
}

/** wx.requestPayment as a promise of {ok, cancelled, message}; never rejects. */
function requestPayment(payment) {
  const pay = simulatorRequestPayment() || ((options) => wx.requestPayment(options));
  return new Promise((resolve) => {
    // `payment` is passed through untouched: the server signed timeStamp, nonceStr, package, signType.
    pay(Object.assign({}, payment, {
      success: () => resolve({ ok: true, cancelled: false }),
      fail: (err) => resolve({ ok: false, cancelled: /cancel/.test((err && err.errMsg) || ""), message: err && err.errMsg }),
    }));
  });
}

/**
 * Asks the server about an order (the server confirms an unpaid order with WeChat's orderquery on
 * read, at most once per 5 s). When the user paid (`paid`), it keeps asking until the order is
 * settled or `forMs` has passed; otherwise one answer is enough. No answer or a 5xx is retried: it
 * says nothing about the payment. Resolves with the last order seen, or
 * {outTradeNo, status: "UNKNOWN"} when the server never answered.
 */
async function confirm(outTradeNo, paid, forMs = CONFIRM_FOR_MS) {
  const deadline = Date.now() + forMs;
  let order = { outTradeNo, status: "UNKNOWN" };
  for (let attempt = 0; ; attempt++) {
    try {
      order = (await request("GET", `/api/orders/${outTradeNo}`)).order;
      if (!paid || SETTLED.includes(order.status)) return order;
    } catch (error) {
      if (!isTransient(error)) throw error;
    }
    if (Date.now() >= deadline) return order;
    await sleep(Math.min(1000 * (attempt + 1), 5000));
  }
}

/**
 * What the page shows, from the server's order and what wx.requestPayment said:
 *   PAID      the server confirmed it (the client's word alone never counts);
 *   CHECKING  WeChat said paid (or the server could not be asked) but the server has not confirmed
 *             yet: keep asking with checkAgain(), never offer a second purchase;
 *   CANCELLED the user closed the payment sheet: the order waits for payAgain() or cancel();
 *   FAILED    the payment did not go through: payAgain() or cancel();
 *   CLOSED    the order can no longer be paid: order again with a new intent.
 */
function outcome(order, payResult) {
  let status;
  if (order.status === "PAID" || order.status === "REFUNDED") status = "PAID";
  else if (order.status === "CLOSED") status = "CLOSED";
  else if (payResult.ok || order.status === "UNKNOWN") status = "CHECKING";
  else status = payResult.cancelled ? "CANCELLED" : "FAILED";
  return { status, order, payResult, message: payResult.message };
}

async function payAndConfirm(outTradeNo, payment, onStage) {
  onStage("paying");
  const payResult = await requestPayment(payment);
  onStage("checking");
  return outcome(await confirm(outTradeNo, payResult.ok), payResult);
}

/**
 * Buys an intent: order → wx.requestPayment → the server's word. Resolves with
 * {status, order, payResult, message} (see outcome()). Rejects with the api.js error when the server
 * refused the order or could not be reached, so no order is known; trying the same intent again is
 * safe.
 */
async function checkout(intent, onStage = noop) {
  onStage("ordering");
  let created;
  try {
    created = await createOrder(intent);
  } catch (error) {
    if (!error.outTradeNo) throw error;
    const known = { outTradeNo: error.outTradeNo, status: "NOTPAY" };
    // WeChat failed after the server committed the order: it can be paid later with payAgain().
    if (error.code !== "ORDER_NOT_PAYABLE") return outcome(known, { ok: false, cancelled: false, message: error.message });
    // The key names an order that is paid or closed already (an earlier answer was lost): its state is the outcome.
    onStage("checking");
    return outcome(await confirm(error.outTradeNo, false), { ok: false, cancelled: false, message: error.message });
  }
  return payAndConfirm(created.order.outTradeNo, created.payment, onStage);
}

/** Pays a waiting (NOTPAY) order again: fresh parameters for the same out_trade_no. */
async function payAgain(outTradeNo, onStage = noop) {
  onStage("ordering");
  const { payment } = await request("POST", `/api/orders/${outTradeNo}/payment`);
  return payAndConfirm(outTradeNo, payment, onStage);
}

/** Asks the server again about a CHECKING outcome; resolves with a new outcome. */
async function checkAgain(previous, onStage = noop) {
  onStage("checking");
  return outcome(await confirm(previous.order.outTradeNo, previous.payResult.ok), previous.payResult);
}

/** Closes a waiting order (409 ORDER_PAID when the user paid after all; 502 in its first 5 minutes). */
const cancel = (outTradeNo) => request("POST", `/api/orders/${outTradeNo}/cancel`);

/**
 * The shipping state of a paid order, as one line for the page: the server's order view carries its
 * shipments (uploaded to WeChat's shipping-information service) and settledAt (the user confirmed
 * receipt and WeChat released the money).
 */
async function shippingState(outTradeNo) {
  const { order, shipments } = await request("GET", `/api/orders/${outTradeNo}`);
  if (order.settledAt) return "Received and confirmed.";
  const uploaded = (shipments || []).filter((s) => s.status === "UPLOADED");
  if (uploaded.length === 0) return "Not shipped yet.";
  const parcels = uploaded.flatMap((s) => s.items.map((i) => (i.trackingNo ? `${i.expressCompany} ${i.trackingNo}` : i.itemDesc)));
  return `Shipped: ${parcels.join(", ")}`;
}

module.exports = { newIntent, checkout, payAgain, checkAgain, confirm, cancel, shippingState };
