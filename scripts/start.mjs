// `npm start`: the whole flow locally in one command. Creates .dev.vars from .dev.vars.example if
// missing, builds the merchant console (dist/assets), applies the D1 migrations, seeds a few
// products, starts the WeChat simulator (127.0.0.1:SIM_PORT, default 8788), the merchant's example
// webhook receiver (127.0.0.1:RECEIVER_PORT, default 8789; when .dev.vars has
// MERCHANT_WEBHOOK_SECRET) and the Worker (wrangler dev, 127.0.0.1:PORT, default 8787, which also
// serves the console at /console/) pointed at both, and prints how to walk the flow with curl.
// Ctrl-C (at any point) stops everything.
// Every problem a newcomer can hit (no `npm ci`, a bad .dev.vars, a port in use) ends in one line
// that names the fix, and exit code 1.
//
// Only Node built-ins and Node-20-compatible modules are imported statically: before `npm ci`, npm
// runs this with the machine's Node, which may be 20 and cannot load the simulator (TypeScript).
import { networkInterfaces } from "node:os";
import { copyFileSync, existsSync } from "node:fs";
import { readVars } from "./dev-vars.mjs";
import { requireSetup, showUsageOnHelp } from "./preflight.mjs";

showUsageOnHelp(`npm start — the simulator, the example merchant webhook receiver and the Worker (wrangler dev) on
local D1/KV, with a curl walkthrough.

Environment: PORT (Worker, default 8787), SIM_PORT (simulator, default 8788), RECEIVER_PORT (merchant
webhook receiver, default 8789), RECEIVER_STORE (the receiver's event ids, default
.wrangler/merchant-webhook/events.jsonl), HOST (where the servers listen, default 127.0.0.1;
HOST=0.0.0.0 lets a phone on the LAN reach them).
Secrets come from .dev.vars (created from .dev.vars.example when missing); wrangler reads it itself.
WECHAT_PAY_API=v3 there makes new orders use WeChat Pay API v3; the simulator then plays the trust mode
its v3 lines describe (README, "Choosing v2 or v3").`);
requireSetup();

/** Prints one line and exits 1: every refusal of this script ends here. */
function fail(line) {
  console.error(line);
  process.exit(1);
}

function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${name}=${raw} is not a port number: use 1-65535, e.g. ${name}=${fallback + 10} npm start`);
  return port;
}
const workerPort = portFromEnv("PORT", 8787);
const simPort = portFromEnv("SIM_PORT", 8788);
const receiverPort = portFromEnv("RECEIVER_PORT", 8789);
const ports = [["PORT", workerPort], ["SIM_PORT", simPort], ["RECEIVER_PORT", receiverPort]];
for (const [i, [name, port]] of ports.entries()) {
  const clash = ports.slice(i + 1).find(([, other]) => other === port);
  if (clash) fail(`${name} and ${clash[0]} are both ${port}: give them different values.`);
}

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (local simulator secrets).");
}
const devVars = readVars(".dev.vars");
// Checked here because the simulator needs the key and the AppSecret before the Worker can say
// anything; every other rule is the Worker's own (/health answers 503 with the names, reported below).
const fixHint = "fix .dev.vars (see .dev.vars.example), or delete it to start again from the example.";
// WECHAT_PAY_API=v3 makes the v2 key optional (new merchants have only v3 credentials).
const payApiV3 = devVars.WECHAT_PAY_API === "v3";
for (const name of ["WECHAT_APP_SECRET", ...(payApiV3 ? [] : ["WECHAT_PAY_KEY"]), "SESSION_SECRET", "ADMIN_TOKEN"]) {
  if (!devVars[name]) fail(`.dev.vars has no ${name}: ${fixHint}`);
}
if (devVars.WECHAT_PAY_KEY && devVars.WECHAT_PAY_KEY.length !== 32) fail(`WECHAT_PAY_KEY in .dev.vars has ${devVars.WECHAT_PAY_KEY.length} characters, an API v2 key has exactly 32: ${fixHint}`);

const { LOCAL_DEFAULTS } = await import("../sim/server.ts");
const { isWebhookSecret } = await import("../examples/merchant-webhook/receiver.mjs");
const { DEFAULT_STORE } = await import("../examples/merchant-webhook/server.mjs");
const { executeLocal, portInUse, simV3Options, startStack } = await import("./local-stack.mjs");
for (const name of ["MERCHANT_WEBHOOK_SECRET", "MERCHANT_WEBHOOK_SECRET_PREVIOUS"]) {
  if (devVars[name] && !isWebhookSecret(devVars[name])) fail(`${name} in .dev.vars is not whsec_ followed by the base64 of 24 to 64 random bytes: ${fixHint}`);
}
// A .dev.vars from before merchant events has no secret: everything else still runs, and we say so.
const receiverOn = Boolean(devVars.MERCHANT_WEBHOOK_SECRET);
const receiverStore = process.env.RECEIVER_STORE || DEFAULT_STORE;
for (const [name, port] of receiverOn ? ports : ports.slice(0, 2)) {
  let busy;
  try {
    busy = await portInUse(port);
  } catch (error) {
    fail(`Cannot listen on 127.0.0.1:${port} (${name}): ${error.code ?? error.message}. Choose another: ${name}=<port> npm start`);
  }
  if (busy) fail(`Port ${port} (${name}) is already in use on 127.0.0.1 — is another \`npm start\` running? Stop it, or choose another port: ${name}=${port + 10} npm start`);
}

// HOST=0.0.0.0 npm start: listen on every interface, so a phone on the LAN can reach both servers.
const host = process.env.HOST || "127.0.0.1";
const vars = { WECHAT_APPID: LOCAL_DEFAULTS.appId, WECHAT_MCH_ID: LOCAL_DEFAULTS.mchId, ...devVars };
let stack;
try {
  if (!receiverOn) console.log("Merchant events are off: .dev.vars has no MERCHANT_WEBHOOK_SECRET (copy that line from .dev.vars.example to see them).");
  stack = await startStack({
    workerPort,
    simPort,
    vars,
    devVars: true,
    echo: true,
    host,
    simOptions: { autoCompleteRefundsAfterMs: 3000 },
    receiver: receiverOn && { store: receiverStore },
    receiverPort,
  });
  console.log("Seeding three products…");
  executeLocal(".wrangler/state", "scripts/seed.sql");
} catch (error) {
  await stack?.stop();
  fail(`npm start failed: ${error.message}${error.problems ? ` — ${fixHint}` : ""}`);
}

stack.workerExited.then(({ code, signal }) => fail(`wrangler dev stopped on its own (${code ?? signal}), so the Worker is gone: see its output above, then run \`npm start\` again.`));

/** Quotes a value for a POSIX shell command line. */
const shq = (value) => `'${String(value).replaceAll("'", `'\\''`)}'`;
const W = stack.workerUrl;
const S = stack.simUrl;
const admin = shq(`authorization: Bearer ${vars.ADMIN_TOKEN}`);
console.log(`
Worker:    ${W}   (GET ${W}/health)
Console:   ${W}/console/   (the merchant console: sign in with ADMIN_TOKEN from .dev.vars)
Simulator: ${S}   (control API: ${S}/__sim/…, see sim/README.md)
New orders: ${payApiLine()}
${merchantLine()}

Walk the flow (or run \`npm run demo\` for a scripted walk):
  TOKEN=$(curl -s -X POST ${W}/api/login -H 'content-type: application/json' -d "{\\"code\\":\\"alice-$RANDOM\\"}" | sed -E 's/.*"token":"([^"]+)".*/\\1/')
  curl -s ${W}/api/products
  curl -s -X POST ${W}/api/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"items":[{"sku":"tea","quantity":1}]}' | tee /tmp/order.json
  OTN=$(sed -E 's/.*"outTradeNo":"([^"]+)".*/\\1/' /tmp/order.json)
  # play the user: pay with the exact "payment" object the mini program would pass to wx.requestPayment
  curl -s -X POST ${S}/__sim/pay -H 'content-type: application/json' -d "$(sed -E 's/.*("payment":\\{[^}]*\\}).*/{\\1}/' /tmp/order.json)"
  curl -s ${W}/api/orders/$OTN -H "authorization: Bearer $TOKEN"     # → PAID (the simulator notified the Worker)${receiverOn ? "; [merchant] order.paid … appears here" : ""}
  # ship it (WeChat's shipping-information service), then the user confirms receipt → settlement push
  curl -s -X POST ${W}/admin/orders/$OTN/shipments -H ${admin} -H 'content-type: application/json' \\
       -d '{"logisticsType":"express","items":[{"trackingNo":"SF1234567890","expressCompany":"SF","itemDesc":"Oolong tea","contact":{"receiverContact":"189****1234"}}]}'
  curl -s -X POST ${S}/__sim/shipping/confirm -H 'content-type: application/json' -d "{\\"outTradeNo\\":\\"$OTN\\",\\"settle\\":true}"
  curl -s ${W}/api/orders/$OTN -H "authorization: Bearer $TOKEN"     # → settledAt set, shipments UPLOADED${receiverOn ? " ([merchant] shipment.uploaded, order.settled)" : ""}
  curl -s -X POST ${W}/admin/orders/$OTN/refunds -H ${admin} \\
       -H 'content-type: application/json' -d '{"refundFee":1990}'   # → refund notify after 3 s → REFUNDED${receiverOn ? " ([merchant] refund.succeeded, order.refunded)" : ""}
  curl -s ${W}/admin/orders/$OTN -H ${admin}
  curl -s -X POST ${W}/admin/reconcile -H ${admin}   # or: curl ${W}/cdn-cgi/local/scheduled

Login codes: any "name-N" is user "name"; codes starting with bad / ratelimit / risky / busy fail like WeChat.${lanHint()}
Press Ctrl-C to stop.`);

/** Which WeChat Pay API new orders use (WECHAT_PAY_API in .dev.vars), and for v3 the trust mode. */
function payApiLine() {
  if (!payApiV3) return "WeChat Pay API v2 (set WECHAT_PAY_API=v3 in .dev.vars for v3)";
  return `WeChat Pay API v3, ${simV3Options(vars)?.mode ?? "publicKey"} mode (README, "Choosing v2 or v3")`;
}

/** Where merchant events go, or why they do not. */
function merchantLine() {
  if (!receiverOn) return "Merchant:  events off (no MERCHANT_WEBHOOK_SECRET in .dev.vars)";
  return `Merchant:  ${stack.receiverUrl}   (examples/merchant-webhook; event ids kept in ${receiverStore})
           Each merchant event the Worker sends is verified there and printed in this terminal as
           "[merchant] <type> <id> outTradeNo=… <amounts in fen>".`;
}

/** With HOST=0.0.0.0, the addresses a phone on the same network can use (mini-program API_BASE). */
function lanHint() {
  if (host !== "0.0.0.0") return "";
  const addresses = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === "IPv4" && !a.internal).map((a) => a.address);
  if (addresses.length === 0) return "\nHOST=0.0.0.0: no LAN address found on this machine.";
  return `\nFrom a phone on the same network: ${addresses.map((a) => `API_BASE http://${a}:${workerPort}, SIMULATOR_BASE http://${a}:${simPort}`).join(" or ")}`;
}
