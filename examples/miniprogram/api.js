// Minimal API client for the payment backend. Session tokens live in storage; a 401 triggers one
// fresh wx.login and a retry. Errors from the server arrive as {error:{code,message}}.
const API_BASE = "https://pay.example.com"; // your Worker's origin

function wxRequest(options) {
  return new Promise((resolve, reject) => {
    wx.request({ ...options, success: resolve, fail: (err) => reject(new Error(err.errMsg || "network error")) });
  });
}

function wxLogin() {
  return new Promise((resolve, reject) => wx.login({ success: (r) => resolve(r.code), fail: reject }));
}

async function login() {
  const code = await wxLogin();
  const res = await wxRequest({ url: `${API_BASE}/api/login`, method: "POST", data: { code }, header: { "content-type": "application/json" } });
  if (res.statusCode !== 200) throw apiError(res);
  wx.setStorageSync("token", res.data.token);
  return res.data.token;
}

function apiError(res) {
  const body = (res.data && res.data.error) || {};
  const error = new Error(body.message || `HTTP ${res.statusCode}`);
  error.code = body.code || "HTTP_" + res.statusCode;
  error.status = res.statusCode;
  // When WeChat failed after the server committed the order, the order's number comes back here:
  // pay it later with POST /api/orders/:outTradeNo/payment instead of creating another order.
  error.outTradeNo = body.outTradeNo || null;
  return error;
}

/** Calls the backend with the session token; logs in again once if the token expired. */
async function request(method, path, data, headers = {}, retried = false) {
  const token = wx.getStorageSync("token") || (await login());
  const res = await wxRequest({
    url: `${API_BASE}${path}`,
    method,
    data,
    header: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
  });
  if (res.statusCode === 401 && !retried) {
    wx.removeStorageSync("token");
    return request(method, path, data, headers, true);
  }
  if (res.statusCode >= 400) throw apiError(res);
  return res.data;
}

module.exports = { request, login };
