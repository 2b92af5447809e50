// `npm run load`: drives the local Worker (wrangler dev + simulator, throwaway D1/KV) over loopback
// with a fixed number of requests per scenario and prints requests/s, p50/p99 latency and errors:
//   GET /health (baseline) · POST /api/orders · first notifies · duplicate notifies (sequential
//   replays, then 10 concurrent copies per order). Afterwards it checks D1 directly: every order PAID
//   exactly once, one applied event per transaction, no anomaly. Any error or inconsistency → exit 1.
// Options: --count N (default 400), --concurrency C (default 16). `npm run bench` runs a small pass.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { requireSetup } from "./preflight.mjs";
import { atExit } from "./process-cleanup.mjs";

const USAGE = `npm run load -- [--count N] [--concurrency C]

Starts a throwaway local stack (simulator + wrangler dev on free ports, fresh D1/KV) and drives it over
loopback: GET /health, POST /api/orders, first and duplicate payment notifications, N requests per
scenario with at most C in flight. Prints req/s, p50/p99 latency and errors, then checks D1: every
order PAID exactly once, one applied event per transaction, no anomaly. Exit 1 on any error.

  --count N         requests per scenario (default 400; logins stay under the limiter up to 500)
  --concurrency C   requests in flight at once (default 16)
  -h, --help        this text`;

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

/** The command line of `npm run load`, or one line and exit 1 when it is wrong. */
function parseCommandLine() {
  let values;
  try {
    ({ values } = parseArgs({ options: { count: { type: "string", default: "400" }, concurrency: { type: "string", default: "16" }, help: { type: "boolean", short: "h" } } }));
  } catch (error) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(1);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = Number(values.count);
  const concurrency = Number(values.concurrency);
  for (const [name, n] of [["--count", count], ["--concurrency", concurrency]]) {
    if (!Number.isInteger(n) || n < 1) {
      console.error(`${name} must be a positive integer\n\n${USAGE}`);
      process.exit(1);
    }
  }
  return { count, concurrency };
}

const args = isMain ? parseCommandLine() : { count: 400, concurrency: 16 };
requireSetup();
const { exampleVars, freePort, queryLocal, startStack } = await import("./local-stack.mjs");
const vars = exampleVars();

/** Runs `total` requests with at most `concurrency` in flight; returns latency stats. */
async function drive(name, total, concurrency, send) {
  const latencies = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        try {
          if (!(await send(i))) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
  const row = { name, requests: total, concurrency, rps: Math.round(total / seconds), p50: pct(50), p99: pct(99), errors };
  console.log(`${name.padEnd(34)} ${String(total).padStart(6)} req  c=${String(concurrency).padStart(3)}  ${String(row.rps).padStart(6)} req/s  p50 ${row.p50.padStart(6)} ms  p99 ${row.p99.padStart(7)} ms  errors ${errors}`);
  return row;
}

/** The official v2 MD5 signature, with node:crypto (independent of src/). */
function signMd5(fields, key) {
  const text = Object.keys(fields).filter((k) => k !== "sign" && fields[k] !== "").sort().map((k) => `${k}=${fields[k]}`).join("&") + `&key=${key}`;
  return createHash("md5").update(text, "utf8").digest("hex").toUpperCase();
}
const toXml = (f) => `<xml>${Object.entries(f).map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`).join("")}</xml>`;

function notifyXml(order, n) {
  const fields = {
    appid: vars.WECHAT_APPID, bank_type: "OTHERS", cash_fee: String(order.totalFee), fee_type: "CNY", is_subscribe: "N",
    mch_id: vars.WECHAT_MCH_ID, nonce_str: `load${n}`, openid: "o-load", out_trade_no: order.outTradeNo, result_code: "SUCCESS",
    return_code: "SUCCESS", time_end: "20261127120000", total_fee: String(order.totalFee), trade_type: "JSAPI",
    transaction_id: `4200${String(n).padStart(24, "0")}`,
  };
  return toXml({ ...fields, sign: signMd5(fields, vars.WECHAT_PAY_KEY) });
}

const ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

/**
 * Runs the load scenarios on a fresh throwaway stack and checks D1 afterwards.
 * @returns {Promise<{ results: object[], problems: string[] }>} problems empty when all went well
 */
export async function runLoad({ count = args.count, concurrency = args.concurrency } = {}) {
  const persistTo = mkdtempSync(join(tmpdir(), "wxpay-load-"));
  const removePersistTo = () => rmSync(persistTo, { recursive: true, force: true });
  const cancelRemoval = atExit(removePersistTo); // also on Ctrl-C
  console.log("Starting a throwaway local stack (simulator + wrangler dev, fresh D1/KV)…");
  let stack;
  try {
    stack = await startStack({ workerPort: await freePort(), simPort: await freePort(), persistTo, vars, progress: (line) => console.log(`  ${line}`) });
  } catch (error) {
    removePersistTo();
    cancelRemoval();
    throw error;
  }
  const W = stack.workerUrl;
  const json = (method, path, body, token) =>
    fetch(`${W}${path}`, { method, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body && JSON.stringify(body) });
  const problems = [];
  try {
    console.log(`node ${process.version}; Worker ${W} (wrangler dev, local D1/KV); ${count} requests per scenario`);
    await json("PUT", "/admin/products/load-item", { name: "Load item", priceFen: 123 }, vars.ADMIN_TOKEN);
    // Enough users to stay under ORDER_LIMITER (30 orders per user per minute): the load measures
    // the service, not the abuse limit (hardening.test.ts proves the limit). Logins stay under
    // LOGIN_LIMITER (20 per IP per minute) for counts up to 500.
    const users = Math.ceil(count / 25);
    console.log(`Logging in ${users} user(s)…`);
    const tokens = [];
    for (let u = 0; u < users; u++) {
      const res = await json("POST", "/api/login", { code: `load${u}-${Date.now()}` });
      if (res.status !== 200) throw new Error(`login for the load run failed: ${res.status} ${await res.text()}`);
      tokens.push((await res.json()).token);
    }

    const results = [];
    results.push(await drive("GET /health (baseline)", count, concurrency, async () => (await fetch(`${W}/health`)).status === 200));
    const orders = [];
    results.push(
      await drive("POST /api/orders", count, concurrency, async (i) => {
        const res = await json("POST", "/api/orders", { items: [{ sku: "load-item", quantity: 1 }] }, tokens[i % tokens.length]);
        if (res.status !== 201) return false;
        const { order } = await res.json();
        orders.push({ outTradeNo: order.outTradeNo, totalFee: order.totalFee });
        return true;
      }),
    );
    const bodies = orders.map((o, n) => notifyXml(o, n + 1));
    const post = async (body) => {
      const res = await fetch(`${W}/wechat/pay/notify`, { method: "POST", headers: { "content-type": "text/xml" }, body });
      return res.status === 200 && (await res.text()) === ACK;
    };
    results.push(await drive("POST /wechat/pay/notify (first)", bodies.length, concurrency, (i) => post(bodies[i])));
    results.push(await drive("POST /wechat/pay/notify (duplicate)", bodies.length, concurrency, (i) => post(bodies[i])));
    const burst = bodies.slice(0, Math.max(1, Math.floor(count / 10)));
    results.push(await drive("notify duplicates, 10 at once", burst.length * 10, Math.max(concurrency, 10), (i) => post(burst[Math.floor(i / 10)])));

    // Consistency, read straight from the local D1.
    console.log("Checking D1 for lost or double transitions (three wrangler d1 queries)…");
    const query = (sql) => queryLocal(persistTo, sql);
    const [paid] = query("SELECT COUNT(*) AS n FROM orders WHERE status = 'PAID'");
    const [applied] = query("SELECT COUNT(*) AS n, COUNT(DISTINCT transaction_id) AS tx FROM events WHERE verdict = 'applied' AND kind = 'pay_notify'");
    const [anomalies] = query("SELECT COUNT(*) AS n FROM events WHERE verdict = 'anomaly'");
    console.log(`D1 after the run: ${paid.n} PAID orders of ${orders.length}; ${applied.n} applied payment events for ${applied.tx} transactions; ${anomalies.n} anomalies`);
    if (paid.n !== orders.length) problems.push(`expected ${orders.length} PAID orders, found ${paid.n}`);
    if (applied.n !== orders.length || applied.tx !== orders.length) problems.push(`expected one applied event per transaction`);
    if (anomalies.n !== 0) problems.push(`${anomalies.n} anomalies`);
    const errors = results.reduce((n, r) => n + r.errors, 0);
    if (errors) problems.push(`${errors} request errors`);
    return { results, problems };
  } finally {
    await stack.stop();
    removePersistTo();
    cancelRemoval();
  }
}

if (isMain) {
  const { problems } = await runLoad();
  if (problems.length) {
    console.error(`FAILED: ${problems.join("; ")}`);
    process.exit(1);
  }
  console.log("No errors; no lost or double transitions.");
}
