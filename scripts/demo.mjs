// `npm run demo`: the whole flow over real HTTP, printed step by step. Starts the simulator and
// `wrangler dev` on free ports with a throwaway local D1/KV, then walks
// login → products → order → the user pays in WeChat (simulator) → notification → PAID
// → refund → refund notification → REFUNDED → reconciliation. Exits non-zero on the first wrong answer.
// `npm run demo -- --api v3 [--mode publicKey|certificate|migrating]` walks the same flow with new
// orders on WeChat Pay API v3 (JSON, RSA paySign, signed and encrypted callbacks) in one trust mode.
// test/e2e/demo.test.ts runs this same script as part of `npm test`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { requireSetup, showUsageOnHelp } from "./preflight.mjs";
import { atExit } from "./process-cleanup.mjs";

showUsageOnHelp(`npm run demo — walks the whole payment flow over real HTTP on a throwaway local stack
(simulator + wrangler dev on free ports, fresh D1/KV, the secrets of .dev.vars.example).

Options (after --, e.g. npm run demo -- --api v3 --mode certificate):
  --api v2|v3     the WeChat Pay API new orders use (default v2)
  --mode publicKey|certificate|migrating
                  v3 only: how the Worker trusts WeChat Pay's signatures (default publicKey): the
                  WeChat Pay public key, downloaded platform certificates, or both (a migration)`);
requireSetup();

/** --api and --mode, or one line naming the problem and exit 1. */
function demoOptions() {
  let values;
  try {
    ({ values } = parseArgs({ options: { api: { type: "string", default: "v2" }, mode: { type: "string" } } }));
  } catch (error) {
    console.error(`${error.message} (see npm run demo -- --help)`);
    process.exit(1);
  }
  const modes = ["publicKey", "certificate", "migrating"];
  if (values.api !== "v2" && values.api !== "v3") return fail(`--api must be v2 or v3, got ${values.api}`);
  if (values.mode !== undefined && values.api !== "v3") return fail("--mode applies to --api v3 only");
  if (values.mode !== undefined && !modes.includes(values.mode)) return fail(`--mode must be one of ${modes.join(", ")}, got ${values.mode}`);
  return { api: values.api, mode: values.mode ?? "publicKey" };
}
function fail(line) {
  console.error(line);
  process.exit(1);
}
const options = demoOptions();
const { exampleV3Vars, exampleVars, freePort, startStack } = await import("./local-stack.mjs");

// Demo values only (the simulator's defaults); a developer's .dev.vars is deliberately not used.
const vars = options.api === "v3" ? exampleV3Vars(options.mode) : exampleVars();

let step = 0;
const say = (text) => console.log(`\n[${++step}] ${text}`);
const show = (label, value) => console.log(`    ${label}: ${typeof value === "string" ? value : JSON.stringify(value)}`);

function expect(condition, message) {
  if (!condition) throw new Error(`demo failed: ${message}`);
}

async function call(base, method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

async function poll(fn, done, { tries = 40, delayMs = 250 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    last = await fn();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, delayMs));
  }
  return last;
}

const persistTo = mkdtempSync(join(tmpdir(), "wxpay-demo-"));
const removePersistTo = () => rmSync(persistTo, { recursive: true, force: true });
const cancelRemoval = atExit(removePersistTo); // also on Ctrl-C
const [workerPort, simPort] = [await freePort(), await freePort()];
let stack;
try {
  const apiLabel = options.api === "v3" ? `WeChat Pay API v3, ${options.mode} mode` : "WeChat Pay API v2";
  say(`Starting the WeChat simulator and the Worker (wrangler dev) with a fresh local D1/KV (${apiLabel})`);
  // Refunds complete at the simulator 500 ms after they are accepted, then notify us.
  stack = await startStack({ workerPort, simPort, persistTo, vars, simOptions: { autoCompleteRefundsAfterMs: 500 }, progress: (line) => console.log(`    ${line}`) });
  const api = (method, path, options) => call(stack.workerUrl, method, path, options);
  const adminToken = vars.ADMIN_TOKEN;
  show("worker", stack.workerUrl);
  show("simulator", stack.simUrl);

  say("Admin puts two products on sale (PUT /admin/products/:sku)");
  for (const [sku, name, priceFen] of [["tea", "Oolong tea 250g", 1990], ["mint", "Mint candy", 7]]) {
    const r = await api("PUT", `/admin/products/${sku}`, { token: adminToken, body: { name, priceFen } });
    expect(r.status === 200, `PUT product ${sku} → ${r.status} ${JSON.stringify(r.body)}`);
    show(sku, r.body.product);
  }

  say("The mini program logs in: wx.login code → POST /api/login (the Worker calls jscode2session)");
  const login = await api("POST", "/api/login", { body: { code: `demo-${Date.now()}` } });
  expect(login.status === 200 && login.body.token, `login → ${login.status} ${JSON.stringify(login.body)}`);
  const token = login.body.token;
  show("session", { expiresIn: login.body.expiresIn, token: `${token.slice(0, 16)}…` });

  say("GET /api/products");
  const products = await api("GET", "/api/products");
  show("products", products.body.products);

  say(`POST /api/orders: priced from D1, order committed, then ${options.api === "v3" ? "the JSAPI prepay (/v3/pay/transactions/jsapi)" : "unifiedorder"} at the simulator`);
  const created = await api("POST", "/api/orders", { token, body: { items: [{ sku: "tea", quantity: 2 }, { sku: "mint", quantity: 1 }], attach: "demo" } });
  expect(created.status === 201, `create order → ${created.status} ${JSON.stringify(created.body)}`);
  const { order, payment } = created.body;
  expect(order.totalFee === 2 * 1990 + 7, `totalFee ${order.totalFee}`);
  show("order", { outTradeNo: order.outTradeNo, status: order.status, totalFee: order.totalFee, expiresAt: order.expiresAt, api: order.api });
  expect(order.api === options.api, `the order was placed with ${order.api}, not ${options.api}`);
  show("payment (for wx.requestPayment)", payment);

  const notifyPath = options.api === "v3" ? "/wechat/v3/pay/notify" : "/wechat/pay/notify";
  say(`The user pays in WeChat (simulator checks the paySign) and WeChat notifies ${notifyPath}`);
  const paid = await call(stack.simUrl, "POST", "/__sim/pay", { body: { payment } });
  expect(paid.status === 200, `sim pay → ${paid.status} ${JSON.stringify(paid.body)}`);
  show("WeChat transaction", paid.body.transactionId);

  say("The mini program confirms with GET /api/orders/:outTradeNo");
  const confirmed = await poll(() => api("GET", `/api/orders/${order.outTradeNo}`, { token }), (r) => r.body.order?.status === "PAID");
  expect(confirmed.body.order?.status === "PAID", `order status ${JSON.stringify(confirmed.body)}`);
  show("order", { status: confirmed.body.order.status, transactionId: confirmed.body.order.transactionId, paidAt: confirmed.body.order.paidAt });
  // PAID is committed before the Worker answers WeChat, so the simulator may not have recorded the
  // acknowledgement yet: wait for the delivery to settle before reporting it.
  const payDeliveryOf = (r) => (r.body.deliveries ?? []).find((d) => d.kind === "pay");
  const settled = (d) => d && (d.status === "acknowledged" || d.status === "gave_up");
  const delivery = await poll(() => call(stack.simUrl, "GET", `/__sim/deliveries?outTradeNo=${order.outTradeNo}`), (r) => settled(payDeliveryOf(r)));
  const payDelivery = payDeliveryOf(delivery);
  expect(payDelivery?.acknowledged, `the payment notification was not acknowledged within 10 s (${payDelivery ? `status ${payDelivery.status}, ${payDelivery.attempts.length} attempt(s)` : "no delivery"})`);
  show("notification", { acknowledged: payDelivery.acknowledged, attempts: payDelivery.attempts.length });

  say("Admin refunds part of it, then the rest (POST /admin/orders/:outTradeNo/refunds)");
  const partial = await api("POST", `/admin/orders/${order.outTradeNo}/refunds`, { token: adminToken, body: { refundFee: 7, reason: "out of mint" } });
  expect(partial.status === 201, `refund → ${partial.status} ${JSON.stringify(partial.body)}`);
  show("refund", partial.body.refund);
  const rest = await api("POST", `/admin/orders/${order.outTradeNo}/refunds`, { token: adminToken, body: { refundFee: 2 * 1990 } });
  expect(rest.status === 201, `refund → ${rest.status} ${JSON.stringify(rest.body)}`);

  const refundNotifyPath = options.api === "v3" ? "/wechat/v3/refund/notify" : "/wechat/refund/notify";
  say(`The simulator completes both refunds and sends encrypted refund notifications (${refundNotifyPath})`);
  const refunded = await poll(() => api("GET", `/admin/orders/${order.outTradeNo}`, { token: adminToken }), (r) => r.body.order?.status === "REFUNDED");
  expect(refunded.body.order?.status === "REFUNDED", `after refunds: ${JSON.stringify(refunded.body.order)}`);
  show("order", { status: refunded.body.order.status, refundedFee: refunded.body.order.refundedFee });
  show("refunds", refunded.body.refunds.map((r) => ({ outRefundNo: r.outRefundNo, refundFee: r.refundFee, status: r.status })));
  show("events", refunded.body.events.map((e) => `${e.kind}:${e.verdict}`));

  say("Admin runs reconciliation now (POST /admin/reconcile; the cron does this every 5 minutes)");
  const reconciled = await api("POST", "/admin/reconcile", { token: adminToken });
  expect(reconciled.status === 200, `reconcile → ${reconciled.status} ${JSON.stringify(reconciled.body)}`);
  show("summary", reconciled.body);

  console.log(`\nDemo complete (${apiLabel}): every step answered as expected.`);
} catch (error) {
  console.error(`\n${error.message}`);
  if (stack) console.error(`--- wrangler output (tail) ---\n${stack.output().slice(-3000)}`);
  process.exitCode = 1;
} finally {
  await stack?.stop();
  removePersistTo();
  cancelRemoval();
}
