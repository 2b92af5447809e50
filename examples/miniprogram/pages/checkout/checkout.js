// The checkout page: lists the products, buys one, and shows what the server confirmed. Buying lives
// in pay.js and HTTP in api.js; this page keeps the UI state: one action at a time (the buttons are
// disabled and a second tap is ignored), the purchase intent, loading and toast feedback.
const { request } = require("../../api");
const pay = require("../../pay");

/** Loading texts per pay.js stage; "paying" has none (WeChat shows its own payment sheet). */
const LOADING = { loading: "Loading…", ordering: "Placing order…", checking: "Checking…" };
/** While a payment waits for the server's confirmation, ask again this often. */
const RECHECK_MS = 5000;

const VIEWS = {
  PAID: { message: "Paid. Thank you!", toast: { title: "Paid", icon: "success" }, ends: true },
  CHECKING: { message: "Payment sent; checking with the server…" },
  CANCELLED: { message: "Payment cancelled. You can pay again or cancel the order.", toast: { title: "Payment cancelled", icon: "none" } },
  FAILED: { message: "The payment did not go through. You can pay again or cancel the order.", toast: { title: "Not paid", icon: "none" } },
  CLOSED: { message: "This order can no longer be paid; tap Buy to order again.", ends: true },
};

/** Integer fen for display only (money is never computed in floats). */
function formatFen(fen) {
  return `¥${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, "0")}`;
}

Page({
  data: { products: [], busy: false, status: "", message: "", pending: "", checking: false, paidOrder: "", shipping: "" },

  onLoad() {
    return this.run(async (stage) => {
      stage("loading");
      const { products } = await request("GET", "/api/products");
      return { data: { products: products.map((p) => Object.assign({}, p, { price: formatFen(p.priceFen) })) } };
    });
  },

  onUnload() {
    this.unloaded = true;
    clearTimeout(this.recheckTimer);
  },

  buy(event) {
    const sku = event.currentTarget.dataset.sku;
    return this.run(async (stage) => {
      // Same product, purchase not ended: the same intent (and Idempotency-Key), so the server
      // answers with the order it already has instead of creating another one.
      if (!this.intent || this.intent.sku !== sku) this.intent = Object.assign(pay.newIntent([{ sku, quantity: 1 }]), { sku });
      return this.show(await pay.checkout(this.intent, stage));
    });
  },

  retry() {
    return this.run(async (stage) => this.show(await pay.payAgain(this.data.pending, stage)));
  },

  checkAgain() {
    return this.run(async (stage) => this.show(await pay.checkAgain(this.lastOutcome, stage)));
  },

  cancelOrder() {
    return this.run(async (stage) => {
      stage("ordering");
      try {
        await pay.cancel(this.data.pending);
        this.intent = null;
        return { data: { status: "CLOSED", message: "Order cancelled.", pending: "" } };
      } catch (error) {
        // The user paid after all: the server has now recorded the payment.
        if (error.code === "ORDER_PAID") return this.show({ status: "PAID" });
        // WeChat refuses to close an order in its first 5 minutes (502); an unpaid order also closes
        // by itself when it expires. Keep the buttons.
        if (error.code === "UPSTREAM_ERROR" || error.code === "NETWORK_ERROR") {
          return { data: { message: "Could not cancel yet; try again in a few minutes." }, toast: { title: "Not cancelled yet", icon: "none" } };
        }
        throw error;
      }
    });
  },

  /**
   * Runs one user action at a time. A tap while an action runs (a double tap, or a tap before the
   * page re-rendered the disabled button) is ignored. `task(stage)` resolves with
   * {data, toast?}; the loading indicator follows the stages and is always hidden at the end.
   */
  async run(task) {
    if (this.busy) return;
    this.busy = true;
    this.setData({ busy: true });
    const stage = (name) => {
      if (LOADING[name]) {
        wx.showLoading({ title: LOADING[name], mask: true });
        this.loading = true;
      } else this.hideLoading();
    };
    let view;
    try {
      view = await task(stage);
    } catch (error) {
      view = this.failed(error);
    }
    this.hideLoading();
    this.busy = false;
    this.setData(Object.assign({ busy: false }, view.data));
    if (view.toast) wx.showToast(view.toast);
  },

  hideLoading() {
    if (!this.loading) return;
    this.loading = false;
    wx.hideLoading();
  },

  /** The view of a pay.js outcome; keeps the intent until the purchase has ended. */
  show(outcome) {
    const view = VIEWS[outcome.status];
    if (view.ends) this.intent = null;
    this.lastOutcome = outcome;
    clearTimeout(this.recheckTimer);
    if (outcome.status === "CHECKING" && !this.unloaded) this.recheckTimer = setTimeout(() => this.checkAgain(), RECHECK_MS);
    const waiting = outcome.status === "CANCELLED" || outcome.status === "FAILED";
    const paidOrder = outcome.status === "PAID" ? outcome.order.outTradeNo : "";
    return {
      data: { status: outcome.status, message: view.message, pending: waiting ? outcome.order.outTradeNo : "", checking: outcome.status === "CHECKING", paidOrder, shipping: "" },
      toast: view.toast,
    };
  },

  /** "Shipping status": the paid order's shipments and whether receipt was confirmed. */
  checkShipping() {
    const outTradeNo = this.data.paidOrder;
    if (!outTradeNo) return;
    return this.run(async (stage) => {
      stage("checking");
      return { data: { shipping: await pay.shippingState(outTradeNo) } };
    });
  },

  /** The view of an error: what the user can do next, never a bare code. */
  failed(error) {
    const code = error.code || "CLIENT_ERROR";
    if (code === "ORDER_NOT_PAYABLE") {
      // Expired, closed or failed at WeChat: this order cannot be paid any more.
      return this.show({ status: "CLOSED" });
    }
    if (code === "IDEMPOTENCY_KEY_REUSED") this.intent = null;
    const message =
      code === "NETWORK_ERROR" ? "No connection to the shop. Please try again (a retry never creates a second order)."
      : code === "LOGIN_FAILED" ? "Could not sign in with WeChat. Please try again."
      : `Something went wrong (${code}). Please try again.`;
    return { data: { message }, toast: { title: code === "NETWORK_ERROR" ? "No connection" : "Something went wrong", icon: "none" } };
  },
});
