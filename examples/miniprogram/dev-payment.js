// Development only: the local WeChat simulator plays the payment sheet. The real wx.requestPayment
// needs a real appid bound to a merchant and talks to WeChat's servers, so against `npm start` it
// cannot pay an order the simulator issued. With config.SIMULATOR_BASE set, a development build
// (DevTools, preview) asks "Pay?" in a modal and pays through the simulator's control API
// (POST /__sim/pay, see sim/README.md in the repository), which checks the paySign like WeChat.
const config = require("./config");

/**
 * A stand-in for wx.requestPayment (same options, same success/fail callbacks and errMsg texts) when
 * this is a development build and SIMULATOR_BASE is set; null otherwise (trial and release builds
 * always get null).
 */
function simulatorRequestPayment() {
  if (!config.SIMULATOR_BASE) return null;
  if (wx.getAccountInfoSync().miniProgram.envVersion !== "develop") return null;
  return payInSimulator;
}

function payInSimulator(options) {
  const { success, fail } = options;
  // Exactly the object the server returned, as wx.requestPayment would send it.
  const payment = { timeStamp: options.timeStamp, nonceStr: options.nonceStr, package: options.package, signType: options.signType, paySign: options.paySign };
  const cancel = () => fail({ errMsg: "requestPayment:fail cancel" });
  wx.showModal({
    title: "WeChat Pay (simulator)",
    content: "Pay this order with the local WeChat simulator?",
    confirmText: "Pay",
    fail: cancel,
    success: (choice) => {
      if (!choice.confirm) return cancel();
      wx.request({
        url: `${config.SIMULATOR_BASE}/__sim/pay`,
        method: "POST",
        data: { payment },
        header: { "content-type": "application/json" },
        success: (res) => {
          if (res.statusCode === 200) success({ errMsg: "requestPayment:ok" });
          else fail({ errMsg: `requestPayment:fail ${(res.data && res.data.error) || `HTTP ${res.statusCode}`}` });
        },
        fail: (err) => fail({ errMsg: `requestPayment:fail ${err.errMsg}` }),
      });
    },
  });
}

module.exports = { simulatorRequestPayment };
