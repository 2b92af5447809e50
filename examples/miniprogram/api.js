// The backend's HTTP client: the session token lives in storage, one wx.login serves every request
// that needs a session at that moment, and every failure becomes an Error with a `code`:
// the server's error code, "NETWORK_ERROR" when no HTTP answer arrived, "LOGIN_FAILED" when wx.login
// gave no code.
const config = require("./config");

const TOKEN_KEY = "token";
const JSON_HEADER = { "content-type": "application/json" };

/** An Error with the fields the pages and pay.js read. */
function clientError(code, message, status, outTradeNo) {
  const error = new Error(message);
  error.code = code;
  error.status = status || 0;
  // When WeChat failed after the server committed the order, the order's number comes back here:
  // pay it later with POST /api/orders/:outTradeNo/payment instead of creating another order.
  error.outTradeNo = outTradeNo || null;
  return error;
}

/** The server's {error:{code,message,outTradeNo?}} answer as an Error. */
function apiError(res) {
  const body = (res.data && res.data.error) || {};
  return clientError(body.code || `HTTP_${res.statusCode}`, body.message || `HTTP ${res.statusCode}`, res.statusCode, body.outTradeNo);
}

/**
 * True when the answer is unknown or the server may answer differently later: no HTTP answer at all
 * (timeout, offline, connection reset) or a 5xx. Such a failure says nothing about an order or a payment.
 */
function isTransient(error) {
  return error.code === "NETWORK_ERROR" || error.status >= 500;
}

/** wx.request as a promise that rejects only when no HTTP answer arrived. */
function wxRequest(options) {
  return new Promise((resolve, reject) => {
    wx.request(Object.assign({}, options, {
      success: resolve,
      fail: (err) => reject(clientError("NETWORK_ERROR", (err && err.errMsg) || "request:fail")),
    }));
  });
}

/** wx.login's code; a success without a code is a failure too (it happens, e.g. offline). */
function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res && res.code ? resolve(res.code) : reject(clientError("LOGIN_FAILED", (res && res.errMsg) || "wx.login gave no code"))),
      fail: (err) => reject(clientError("LOGIN_FAILED", (err && err.errMsg) || "wx.login failed")),
    });
  });
}

async function freshLogin() {
  const code = await wxLogin();
  const res = await wxRequest({ url: `${config.API_BASE}/api/login`, method: "POST", data: { code }, header: JSON_HEADER });
  if (res.statusCode !== 200 || !res.data || !res.data.token) throw apiError(res);
  wx.setStorageSync(TOKEN_KEY, res.data.token);
  return res.data.token;
}

let loginInFlight = null;

/**
 * Logs in (wx.login → POST /api/login) and stores the session token. Callers that arrive while a
 * login is running share it: three requests that meet an expired token cause one wx.login, not three
 * (each code is single-use, and WeChat rate-limits logins).
 */
function login() {
  if (!loginInFlight) {
    const done = () => {
      loginInFlight = null;
    };
    loginInFlight = freshLogin();
    loginInFlight.then(done, done);
  }
  return loginInFlight;
}

/**
 * Calls the backend with the session token (logging in first when there is none) and resolves with
 * the JSON answer. A 401 means the session expired: log in again once and retry.
 * Rejects with an Error carrying `code`, `status` (0 without an answer) and `outTradeNo`.
 */
async function request(method, path, data, headers) {
  for (let attempt = 0; ; attempt++) {
    const token = wx.getStorageSync(TOKEN_KEY) || (await login());
    const res = await wxRequest({
      url: `${config.API_BASE}${path}`,
      method,
      data,
      header: Object.assign({}, JSON_HEADER, { authorization: `Bearer ${token}` }, headers),
    });
    if (res.statusCode === 401 && attempt === 0) {
      // Forget the expired token unless a concurrent request has already replaced it.
      if (wx.getStorageSync(TOKEN_KEY) === token) wx.removeStorageSync(TOKEN_KEY);
      continue;
    }
    if (res.statusCode >= 400) throw apiError(res);
    return res.data;
  }
}

module.exports = { request, login, isTransient };
