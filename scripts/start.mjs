// `npm start`: the whole flow locally in one command. Creates .dev.vars from .dev.vars.example if
// missing, applies the D1 migrations, seeds a few products, starts the WeChat simulator
// (127.0.0.1:SIM_PORT, default 8788) and the Worker (wrangler dev, 127.0.0.1:PORT, default 8787)
// pointed at it, and prints how to walk the flow with curl. Ctrl-C (at any point) stops both.
// Every problem a newcomer can hit (no `npm ci`, a bad .dev.vars, a port in use) ends in one line
// that names the fix, and exit code 1.
//
// Only Node built-ins and Node-20-compatible modules are imported statically: before `npm ci`, npm
// runs this with the machine's Node, which may be 20 and cannot load the simulator (TypeScript).
import { networkInterfaces } from "node:os";
import { copyFileSync, existsSync } from "node:fs";
import { readVars } from "./dev-vars.mjs";
import { requireSetup, showUsageOnHelp } from "./preflight.mjs";

showUsageOnHelp(`npm start — the simulator and the Worker (wrangler dev) on local D1/KV, with a curl walkthrough.

Environment: PORT (Worker, default 8787), SIM_PORT (simulator, default 8788), HOST (where both
listen, default 127.0.0.1; HOST=0.0.0.0 lets a phone on the LAN reach them).
Secrets come from .dev.vars (created from .dev.vars.example when missing); wrangler reads it itself.`);
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
if (workerPort === simPort) fail(`PORT and SIM_PORT are both ${workerPort}: give them different values.`);

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (local simulator secrets).");
}
const devVars = readVars(".dev.vars");
// Checked here because the simulator needs the key and the AppSecret before the Worker can say
// anything; every other rule is the Worker's own (/health answers 503 with the names, reported below).
const fixHint = "fix .dev.vars (see .dev.vars.example), or delete it to start again from the example.";
for (const name of ["WECHAT_APP_SECRET", "WECHAT_PAY_KEY", "SESSION_SECRET", "ADMIN_TOKEN"]) {
  if (!devVars[name]) fail(`.dev.vars has no ${name}: ${fixHint}`);
}
if (devVars.WECHAT_PAY_KEY.length !== 32) fail(`WECHAT_PAY_KEY in .dev.vars has ${devVars.WECHAT_PAY_KEY.length} characters, an API v2 key has exactly 32: ${fixHint}`);

const { LOCAL_DEFAULTS } = await import("../sim/server.ts");
const { executeLocal, portInUse, startStack } = await import("./local-stack.mjs");
for (const [name, port] of [["PORT", workerPort], ["SIM_PORT", simPort]]) {
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
  stack = await startStack({ workerPort, simPort, vars, devVars: true, echo: true, host, simOptions: { autoCompleteRefundsAfterMs: 3000 } });
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
  curl -s -X POST ${W}/admin/orders/$OTN/refunds -H ${admin} \\
       -H 'content-type: application/json' -d '{"refundFee":1990}'   # → refund notify after 3 s → REFUNDED
  curl -s ${W}/admin/orders/$OTN -H ${admin}
  curl -s -X POST ${W}/admin/reconcile -H ${admin}   # or: curl ${W}/cdn-cgi/local/scheduled

Login codes: any "name-N" is user "name"; codes starting with bad / ratelimit / risky / busy fail like WeChat.${lanHint()}
Press Ctrl-C to stop.`);

/** With HOST=0.0.0.0, the addresses a phone on the same network can use (mini-program API_BASE). */
function lanHint() {
  if (host !== "0.0.0.0") return "";
  const addresses = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === "IPv4" && !a.internal).map((a) => a.address);
  if (addresses.length === 0) return "\nHOST=0.0.0.0: no LAN address found on this machine.";
  return `\nFrom a phone on the same network: ${addresses.map((a) => `API_BASE http://${a}:${workerPort}, SIMULATOR_BASE http://${a}:${simPort}`).join(" or ")}`;
}
