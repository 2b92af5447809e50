// `npm start`: the whole flow locally in one command. Creates .dev.vars from .dev.vars.example if
// missing, applies the D1 migrations, seeds a few products, starts the WeChat simulator
// (127.0.0.1:8788) and the Worker (wrangler dev, 127.0.0.1:8787) pointed at it, and prints how to
// walk the flow with curl. Ctrl-C stops both.
import { copyFileSync, existsSync } from "node:fs";
import { executeLocal, readVars, startStack } from "./local-stack.mjs";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (local simulator secrets).");
}
const workerPort = Number(process.env.PORT || 8787);
const simPort = Number(process.env.SIM_PORT || 8788);
const vars = { WECHAT_APPID: "wxd930ea5d5a258f4f", WECHAT_MCH_ID: "10000100", ...readVars(".dev.vars") };

console.log("Applying migrations and seeding products into the local D1 (.wrangler/state)…");
const stack = await startStack({ workerPort, simPort, vars, echo: true, simOptions: { autoCompleteRefundsAfterMs: 3000 } });
executeLocal(".wrangler/state", "scripts/seed.sql");

const W = stack.workerUrl;
const S = stack.simUrl;
console.log(`
Worker:    ${W}   (GET ${W}/health)
Simulator: ${S}   (control API: ${S}/__sim/…, see sim/README.md)

Walk the flow (or run \`npm run demo\` for a scripted walk):
  TOKEN=$(curl -s -X POST ${W}/api/login -H 'content-type: application/json' -d "{\\"code\\":\\"alice-$RANDOM\\"}" | sed -E 's/.*"token":"([^"]+)".*/\\1/')
  curl -s ${W}/api/products
  curl -s -X POST ${W}/api/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"items":[{"sku":"tea","quantity":1}]}' | tee /tmp/order.json
  OTN=$(sed -E 's/.*"outTradeNo":"([^"]+)".*/\\1/' /tmp/order.json)
  # play the user: pay with the exact "payment" object the mini program would pass to wx.requestPayment
  curl -s -X POST ${S}/__sim/pay -H 'content-type: application/json' -d "$(sed -E 's/.*("payment":\\{[^}]*\\}).*/{\\1}/' /tmp/order.json)"
  curl -s ${W}/api/orders/$OTN -H "authorization: Bearer $TOKEN"     # → PAID (the simulator notified the Worker)
  curl -s -X POST ${W}/admin/orders/$OTN/refunds -H "authorization: Bearer ${vars.ADMIN_TOKEN}" \\
       -H 'content-type: application/json' -d '{"refundFee":1990}'   # → refund notify after 3 s → REFUNDED
  curl -s ${W}/admin/orders/$OTN -H "authorization: Bearer ${vars.ADMIN_TOKEN}"
  curl -s -X POST ${W}/admin/reconcile -H "authorization: Bearer ${vars.ADMIN_TOKEN}"   # or: curl ${W}/cdn-cgi/local/scheduled

Login codes: any "name-N" is user "name"; codes starting with bad / ratelimit / risky / busy fail like WeChat.
Press Ctrl-C to stop.`);

const shutdown = async () => {
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
