// Where the mini program finds its backend. The defaults reach `npm start` from WeChat DevTools on the
// same computer (DevTools must not check request domains: project.config.json sets urlCheck false).
// A phone reaches your computer by its LAN address instead (see README.md); a release build needs the
// Worker's https origin, added to the request domain list (request合法域名) in the mini-program admin.
module.exports = {
  /** The Worker: `npm start` serves it on port 8787 (PORT). */
  API_BASE: "http://127.0.0.1:8787",
  /**
   * The local WeChat simulator (`npm start`, port 8788, SIM_PORT). When set, a development build pays
   * through it instead of the real payment sheet (see dev-payment.js); "" turns that off. Trial and
   * release builds never use it.
   */
  SIMULATOR_BASE: "http://127.0.0.1:8788",
};
