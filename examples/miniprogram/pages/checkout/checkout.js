// A page that buys one product: shows the catalogue, pays, and reports what the server confirmed.
const { request } = require("../../api");
const { checkout, payAgain, cancel } = require("../../pay");

Page({
  data: { products: [], message: "", pending: null },

  async onLoad() {
    const { products } = await request("GET", "/api/products");
    // priceFen is integer fen: format for display only, never compute money in floats.
    this.setData({ products: products.map((p) => ({ ...p, price: `¥${Math.floor(p.priceFen / 100)}.${String(p.priceFen % 100).padStart(2, "0")}` })) });
  },

  async buy(event) {
    const sku = event.currentTarget.dataset.sku;
    try {
      const { status, order } = await checkout([{ sku, quantity: 1 }]);
      const messages = {
        PAID: "Paid. Thank you!",
        CANCELLED: "Payment cancelled. You can pay again or cancel the order.",
        PENDING: "Payment received by WeChat; confirming…",
        FAILED: "Payment failed. You can try again.",
      };
      this.setData({ message: messages[status], pending: status === "PAID" ? null : order.outTradeNo });
    } catch (error) {
      this.setData({ message: `Could not start payment (${error.code}). Please try again.` });
    }
  },

  async retry() {
    try {
      const { order } = await payAgain(this.data.pending);
      this.setData({ message: order.status === "PAID" ? "Paid. Thank you!" : "Not paid yet.", pending: order.status === "PAID" ? null : order.outTradeNo });
    } catch (error) {
      // ORDER_NOT_PAYABLE: expired, closed or failed at WeChat: this order cannot be paid any more.
      if (error.code === "ORDER_NOT_PAYABLE") this.setData({ message: "This order can no longer be paid; please order again.", pending: null });
      else this.setData({ message: "Could not start payment; try again." });
    }
  },

  async cancelOrder() {
    try {
      await cancel(this.data.pending);
      this.setData({ message: "Order cancelled.", pending: null });
    } catch (error) {
      if (error.code === "ORDER_PAID") {
        // The user paid after all; the order is now PAID on the server.
        this.setData({ message: "This order was paid after all.", pending: null });
      } else {
        // e.g. WeChat refuses to close an order in its first 5 minutes: keep the buttons; an unpaid
        // order also closes by itself when it expires.
        this.setData({ message: "Could not cancel yet; try again in a few minutes." });
      }
    }
  },
});
