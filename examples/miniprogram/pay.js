// checkout(items): create the order, open WeChat Pay, then let the server say whether it is paid.
const { request } = require("./api");

function requestPayment(payment) {
  // Pass the server's object as is: timeStamp, nonceStr, package, signType, paySign.
  return new Promise((resolve) => {
    wx.requestPayment({
      ...payment,
      success: () => resolve({ ok: true }),
      fail: (err) => resolve({ ok: false, cancelled: /cancel/.test(err.errMsg || ""), message: err.errMsg }),
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Asks the server until WeChat has confirmed the order (the server runs orderquery on read). */
async function confirm(outTradeNo, attempts = 6) {
  let order;
  for (let i = 0; i < attempts; i++) {
    ({ order } = await request("GET", `/api/orders/${outTradeNo}`));
    if (order.status !== "NOTPAY") return order;
    await sleep(1000 + i * 1000); // the server queries WeChat at most once per 5 s per order
  }
  return order;
}

function idempotencyKey() {
  return `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Creates the order once per purchase intent: the same Idempotency-Key is reused when the request
 * is retried (network error, no answer), so a retried tap never creates a second order. When WeChat
 * failed after the order was committed, the server names the order and we get its payment later.
 */
async function createOrder(items, attach, key) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request("POST", "/api/orders", { items, attach }, { "Idempotency-Key": key });
    } catch (error) {
      if (error.outTradeNo) return { order: { outTradeNo: error.outTradeNo }, payment: (await request("POST", `/api/orders/${error.outTradeNo}/payment`)).payment };
      if (error.status || attempt >= 2) throw error; // an answer from the server is final; only network errors are retried
      await sleep(1000 * (attempt + 1));
    }
  }
}

/**
 * Returns {status: "PAID" | "CANCELLED" | "PENDING" | "FAILED", order}.
 * Client-side success is never trusted on its own: only the server's confirmation counts.
 * Pass the same `key` when the user retries the same purchase (the page keeps it per intent).
 */
async function checkout(items, attach, key = idempotencyKey()) {
  const { order, payment } = await createOrder(items, attach, key);
  const result = await requestPayment(payment);
  const confirmed = await confirm(order.outTradeNo, result.ok ? 6 : 1);
  if (confirmed.status === "PAID") return { status: "PAID", order: confirmed };
  if (result.cancelled) return { status: "CANCELLED", order: confirmed };
  if (result.ok) return { status: "PENDING", order: confirmed }; // paid in WeChat, confirmation still on its way
  return { status: "FAILED", order: confirmed, message: result.message };
}

/** Pay again for a NOTPAY order (fresh parameters; the same out_trade_no). */
async function payAgain(outTradeNo) {
  const { payment } = await request("POST", `/api/orders/${outTradeNo}/payment`);
  const result = await requestPayment(payment);
  return { result, order: await confirm(outTradeNo, result.ok ? 6 : 1) };
}

const cancel = (outTradeNo) => request("POST", `/api/orders/${outTradeNo}/cancel`);

module.exports = { checkout, payAgain, cancel };
