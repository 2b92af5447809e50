// `npm run load`: drives the local Worker (wrangler dev + simulator, throwaway D1/KV) over loopback
// with a fixed number of requests per scenario and prints requests/s, p50/p99 latency and errors:
//   GET /health (baseline) · POST /api/orders · first notifies · duplicate notifies (sequential
//   replays, then 10 concurrent copies per order), and the ratio duplicate/health. Afterwards it
//   checks D1 directly: every order PAID exactly once, one applied event per transaction, no anomaly.
// Then merchant events, on a second throwaway stack with the example merchant receiver attached:
//   N orders paid in the simulator, which notifies the Worker over HTTP; the order.paid events go
//   through wrangler dev's local Queue to the receiver. Prints events delivered, duplicates, id repeats
//   and the latency from the notify's ACK to the receiver storing the event.
// Any error or inconsistency → exit 1.
// Options: --count N (default 400), --concurrency C (default 16), --events N (default: --count).
// `npm run bench` runs a small pass without the events.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { requireSetup } from "./preflight.mjs";
import { atExit } from "./process-cleanup.mjs";

const USAGE = `npm run load -- [--count N] [--concurrency C] [--events N]

Starts a throwaway local stack (simulator + wrangler dev on free ports, fresh D1/KV) and drives it over
loopback: GET /health, POST /api/orders, first and duplicate payment notifications, N requests per
scenario with at most C in flight. Prints req/s, p50/p99 latency and errors, and duplicate notifies'
req/s relative to GET /health's; then checks D1: every order PAID exactly once, one applied event per
transaction, no anomaly.
Then merchant events, on a second throwaway stack with the example merchant receiver
(examples/merchant-webhook) as MERCHANT_WEBHOOK_URL: --events orders paid in the simulator, which
notifies the Worker; prints the order.paid events the receiver got (of one per order), distinct-change
duplicates (two webhook-ids for one order's order.paid: must be 0), id repeats (one webhook-id received
more than once: retries, allowed), and the latency from the notify's ACK (the simulator got its 200) to
the receiver storing the event, p50/p99. Exit 1 on any error.

  --count N         requests per scenario (default 400; logins stay under the limiter up to 500)
  --concurrency C   requests in flight at once (default 16)
  --events N        payments in the merchant-events scenario (default: --count, up to 500; 0 skips it)
  -h, --help        this text`;

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

/** The command line of `npm run load`, or one line and exit 1 when it is wrong. */
function parseCommandLine() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { count: { type: "string", default: "400" }, concurrency: { type: "string", default: "16" }, events: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
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
  const events = values.events === undefined ? Math.min(count, MAX_EVENT_PAYMENTS) : Number(values.events);
  for (const [name, n] of [["--count", count], ["--concurrency", concurrency]]) {
    if (!Number.isInteger(n) || n < 1) {
      console.error(`${name} must be a positive integer\n\n${USAGE}`);
      process.exit(1);
    }
  }
  if (!Number.isInteger(events) || events < 0 || events > MAX_EVENT_PAYMENTS) {
    console.error(`--events must be an integer from 0 to ${MAX_EVENT_PAYMENTS}\n\n${USAGE}`);
    process.exit(1);
  }
  return { count, concurrency, events };
}

/** Orders per user, under ORDER_LIMITER (30 per user per minute): the load measures the service, not the abuse limit. */
const ORDERS_PER_USER = 25;
/** Up to this many orders the logins stay under LOGIN_LIMITER (20 per IP per minute). */
const MAX_EVENT_PAYMENTS = 20 * ORDERS_PER_USER;
/** The events scenario gives up when neither an ACK nor an event arrived for this long. */
const EVENTS_STALL_MS = 30_000;

const args = isMain ? parseCommandLine() : { count: 400, concurrency: 16, events: undefined };
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
  const row = { name, requests: total, concurrency, rps: Math.round(total / seconds), p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
  console.log(`${name.padEnd(34)} ${String(total).padStart(6)} req  c=${String(concurrency).padStart(3)}  ${String(row.rps).padStart(6)} req/s  p50 ${row.p50.padStart(6)} ms  p99 ${row.p99.padStart(7)} ms  errors ${errors}`);
  return row;
}

/** The p-th percentile of `values` (milliseconds) with one decimal, or "-" when there are none. */
function percentile(values, p) {
  if (values.length === 0) return "-";
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(1);
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
 * Runs `scenarios(stack, persistTo)` on a fresh throwaway stack (free ports, D1/KV in a temporary
 * directory) started with `options`; stops the stack and removes the directory afterwards, also on Ctrl-C.
 */
async function withThrowawayStack(options, scenarios) {
  const persistTo = mkdtempSync(join(tmpdir(), "wxpay-load-"));
  const removePersistTo = () => rmSync(persistTo, { recursive: true, force: true });
  const cancelRemoval = atExit(removePersistTo); // also on Ctrl-C
  let stack;
  try {
    stack = await startStack({ workerPort: await freePort(), simPort: await freePort(), persistTo, vars, progress: (line) => console.log(`  ${line}`), ...options });
  } catch (error) {
    removePersistTo();
    cancelRemoval();
    throw error;
  }
  try {
    return await scenarios(stack, persistTo);
  } finally {
    await stack.stop();
    removePersistTo();
    cancelRemoval();
  }
}

/** JSON requests to the Worker at `base`, with a bearer token when given. */
const jsonClient = (base) => (method, path, body, token) =>
  fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body && JSON.stringify(body) });

/**
 * Puts the load product on sale and logs in enough users for `orders` orders: ORDERS_PER_USER each
 * stays under ORDER_LIMITER (hardening.test.ts proves the limit), and the logins under LOGIN_LIMITER
 * for up to MAX_EVENT_PAYMENTS orders. Returns the session tokens.
 */
async function openShop(json, orders) {
  await json("PUT", "/admin/products/load-item", { name: "Load item", priceFen: 123 }, vars.ADMIN_TOKEN);
  const users = Math.ceil(orders / ORDERS_PER_USER);
  console.log(`Logging in ${users} user(s)…`);
  const tokens = [];
  for (let u = 0; u < users; u++) {
    const res = await json("POST", "/api/login", { code: `load${u}-${Date.now()}` });
    if (res.status !== 200) throw new Error(`login for the load run failed: ${res.status} ${await res.text()}`);
    tokens.push((await res.json()).token);
  }
  return tokens;
}

/** Creates `total` orders of one load item (a drive row named `name`); pushes `{ order, payment }` of each to `created`. */
const createOrders = (json, tokens, name, total, concurrency, created) =>
  drive(name, total, concurrency, async (i) => {
    const res = await json("POST", "/api/orders", { items: [{ sku: "load-item", quantity: 1 }] }, tokens[i % tokens.length]);
    if (res.status !== 201) return false;
    const { order, payment } = await res.json();
    created.push({ order, payment });
    return true;
  });

/** The notify scenarios (health baseline, orders, first and duplicate notifies), then D1 checked. */
async function runNotifyScenarios(stack, persistTo, { count, concurrency }) {
  const W = stack.workerUrl;
  const json = jsonClient(W);
  console.log(`node ${process.version}; Worker ${W} (wrangler dev, local D1/KV); ${count} requests per scenario`);
  const tokens = await openShop(json, count);

  const results = [];
  const problems = [];
  const health = await drive("GET /health (baseline)", count, concurrency, async () => (await fetch(`${W}/health`)).status === 200);
  results.push(health);
  const created = [];
  results.push(await createOrders(json, tokens, "POST /api/orders", count, concurrency, created));
  const orders = created.map(({ order }) => order);
  const bodies = orders.map((o, n) => notifyXml(o, n + 1));
  const post = async (body) => {
    const res = await fetch(`${W}/wechat/pay/notify`, { method: "POST", headers: { "content-type": "text/xml" }, body });
    return res.status === 200 && (await res.text()) === ACK;
  };
  results.push(await drive("POST /wechat/pay/notify (first)", bodies.length, concurrency, (i) => post(bodies[i])));
  const duplicate = await drive("POST /wechat/pay/notify (duplicate)", bodies.length, concurrency, (i) => post(bodies[i]));
  results.push(duplicate);
  const burst = bodies.slice(0, Math.max(1, Math.floor(count / 10)));
  results.push(await drive("notify duplicates, 10 at once", burst.length * 10, Math.max(concurrency, 10), (i) => post(burst[Math.floor(i / 10)])));
  // Comparable across runs on one machine, where absolute req/s move with the load on it.
  console.log(`duplicate notifies / GET /health: ${duplicate.rps} / ${health.rps} req/s = ${(duplicate.rps / health.rps).toFixed(2)}`);

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
  return { results, problems };
}

/**
 * What the example receiver got, and when: `receivedAt` maps each stored event's id to the moment it
 * was stored (the receiver logs one line right after storing an event, synchronously, so every log
 * line stamps the events stored since the previous one).
 */
function receiverProbe() {
  const receivedAt = new Map();
  const probe = {
    /** @type {import("../examples/merchant-webhook/receiver.mjs").Receiver | null} */
    receiver: null,
    receivedAt,
    log() {
      const events = probe.receiver?.events ?? [];
      for (let i = receivedAt.size; i < events.length; i++) receivedAt.set(events[i].id, performance.now());
    },
  };
  return probe;
}

/**
 * The simulator's fetch, noting in `ackAt` when each order's payment notification first got its 200
 * from the Worker (the ACK; the simulator then reads the body, which is the SUCCESS XML).
 */
function ackRecordingFetch(ackAt) {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (res.status === 200 && new URL(String(url)).pathname === "/wechat/pay/notify") {
      const outTradeNo = /<out_trade_no><!\[CDATA\[([^\]]*)\]\]><\/out_trade_no>/.exec(String(init?.body))?.[1];
      if (outTradeNo && !ackAt.has(outTradeNo)) ackAt.set(outTradeNo, performance.now());
    }
    return res;
  };
}

/** Every merchant event in the Worker's outbox, by type and status (GET /admin/webhooks/events, all pages). */
async function outboxCounts(json) {
  const counts = {};
  let cursor = null;
  do {
    const res = await json("GET", `/admin/webhooks/events?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, undefined, vars.ADMIN_TOKEN);
    if (res.status !== 200) throw new Error(`GET /admin/webhooks/events → ${res.status} ${await res.text()}`);
    const page = await res.json();
    for (const e of page.events) counts[`${e.type} ${e.status}`] = (counts[`${e.type} ${e.status}`] ?? 0) + 1;
    cursor = page.nextCursor;
  } while (cursor);
  return counts;
}

/**
 * Merchant events under load, on a stack whose Worker sends them to the example receiver: `total`
 * orders paid in the simulator (which notifies the Worker), then waits for every ACK and every
 * order.paid at the receiver (giving up after EVENTS_STALL_MS without progress) and reports.
 */
async function runEventScenario({ total, concurrency }) {
  const ackAt = new Map();
  const probe = receiverProbe();
  console.log("\nMerchant events: a second throwaway stack with the example merchant receiver attached (WEBHOOK_RETRY_BASE_SECONDS=1)…");
  return withThrowawayStack(
    {
      vars: { ...vars, WEBHOOK_RETRY_BASE_SECONDS: "1" },
      receiver: { log: probe.log },
      receiverPort: await freePort(),
      simOptions: { fetch: ackRecordingFetch(ackAt) },
    },
    async (stack) => {
      probe.receiver = stack.receiver;
      const receiver = stack.receiver;
      const json = jsonClient(stack.workerUrl);
      console.log(`Worker ${stack.workerUrl} → receiver ${stack.receiverUrl}; ${total} payments`);
      const tokens = await openShop(json, total);
      const results = [];
      const problems = [];
      const created = [];
      results.push(await createOrders(json, tokens, "POST /api/orders (to be paid)", total, concurrency, created));
      const pay = async (i) => {
        const res = await fetch(`${stack.simUrl}/__sim/pay`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ payment: created[i].payment }) });
        return res.status === 200;
      };
      results.push(await drive("POST /__sim/pay (sim notifies)", created.length, concurrency, pay));
      const paidAt = performance.now();

      const ours = new Set(created.map(({ order }) => order.outTradeNo));
      const paidEvents = () => receiver.events.filter((e) => e.type === "order.paid" && ours.has(e.data.order?.outTradeNo));
      console.log(`Waiting for ${ours.size} notify ACKs and ${ours.size} order.paid events at the receiver…`);
      let progress = -1;
      let progressAt = performance.now();
      while (ackAt.size < ours.size || new Set(paidEvents().map((e) => e.data.order.outTradeNo)).size < ours.size) {
        const now = performance.now();
        if (ackAt.size + receiver.events.length !== progress) [progress, progressAt] = [ackAt.size + receiver.events.length, now];
        else if (now - progressAt > EVENTS_STALL_MS) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const stamps = [...probe.receivedAt.values()];
      const lastEventAt = Math.max(paidAt, ...stamps);
      // Events per second while they arrived (wrangler dev's local Queue hands the consumer one batch at a time).
      const rate = stamps.length > 1 ? ((stamps.length - 1) / ((lastEventAt - Math.min(...stamps)) / 1000)).toFixed(1) : "-";
      const outbox = await outboxCounts(json);

      // One order.paid per order: each order's payment is one change, so one event id.
      const idsByOrder = new Map();
      for (const e of paidEvents()) idsByOrder.set(e.data.order.outTradeNo, [...(idsByOrder.get(e.data.order.outTradeNo) ?? []), e.id]);
      const distinctChangeDuplicates = [...idsByOrder.values()].reduce((n, ids) => n + ids.length - 1, 0);
      // At least once: an id may come again (a retry after a lost answer); the receiver answers 2xx, stores nothing.
      const withId = receiver.deliveries.filter((d) => d.id !== null);
      const idRepeats = withId.length - new Set(withId.map((d) => d.id)).size;
      const notOk = receiver.deliveries.filter((d) => d.status !== 200).length;
      const unverified = receiver.deliveries.filter((d) => !d.verified).length;
      const others = receiver.events.filter((e) => !(e.type === "order.paid" && ours.has(e.data.order?.outTradeNo)));
      const latencies = paidEvents().flatMap((e) => (ackAt.has(e.data.order.outTradeNo) ? [probe.receivedAt.get(e.id) - ackAt.get(e.data.order.outTradeNo)] : []));

      const line = (label, text) => console.log(`${label.padEnd(34)} ${text}`);
      line("notify ACKs (simulator got 200)", `${ackAt.size} of ${ours.size}`);
      line("order.paid events delivered", `${idsByOrder.size} of ${ours.size} expected; ${rate} events/s at the receiver, the last ${((lastEventAt - paidAt) / 1000).toFixed(1)} s after the last payment`);
      line("distinct-change duplicates", `${distinctChangeDuplicates} (a second webhook-id for one order's order.paid; must be 0)`);
      line("id repeats from retries", `${idRepeats} (a webhook-id received again); ${withId.length} deliveries, ${notOk} answered other than 200, ${unverified} not verified`);
      line("notify ACK → event received", `p50 ${percentile(latencies, 50)} ms  p99 ${percentile(latencies, 99)} ms  (${latencies.length} events)`);
      line("Worker's outbox (admin API)", Object.entries(outbox).map(([k, n]) => `${n} ${k}`).join(", ") || "empty");

      if (ackAt.size !== ours.size) problems.push(`${ours.size - ackAt.size} payment notifications not acknowledged`);
      if (idsByOrder.size !== ours.size) problems.push(`${ours.size - idsByOrder.size} order.paid events not delivered within ${EVENTS_STALL_MS / 1000} s of the last progress`);
      if (distinctChangeDuplicates) problems.push(`${distinctChangeDuplicates} distinct-change duplicate order.paid events`);
      if (unverified) problems.push(`${unverified} deliveries did not verify`);
      if (others.length) problems.push(`unexpected events at the receiver: ${[...new Set(others.map((e) => e.type))].join(", ")}`);
      if (outbox["order.paid delivered"] !== ours.size || Object.keys(outbox).length !== 1) problems.push(`the outbox should hold ${ours.size} delivered order.paid events and nothing else`);
      return { results, problems, events: { payments: ours.size, acked: ackAt.size, delivered: idsByOrder.size, distinctChangeDuplicates, idRepeats, latencyP50: percentile(latencies, 50), latencyP99: percentile(latencies, 99) } };
    },
  );
}

/**
 * Runs the load scenarios on a fresh throwaway stack and checks D1 afterwards; then, unless `events`
 * is 0, the merchant-events scenario on a second one with the example receiver (`events` payments,
 * by default as many as `count`).
 * @returns {Promise<{ results: object[], events: object | null, problems: string[] }>} problems empty when all went well
 */
export async function runLoad({ count = args.count, concurrency = args.concurrency, events = args.events ?? Math.min(count, MAX_EVENT_PAYMENTS) } = {}) {
  console.log("Starting a throwaway local stack (simulator + wrangler dev, fresh D1/KV)…");
  const notify = await withThrowawayStack({}, (stack, persistTo) => runNotifyScenarios(stack, persistTo, { count, concurrency }));
  const merchant = events > 0 ? await runEventScenario({ total: events, concurrency }) : null;
  const results = [...notify.results, ...(merchant?.results ?? [])];
  const problems = [...notify.problems, ...(merchant?.problems ?? [])];
  const errors = results.reduce((n, r) => n + r.errors, 0);
  if (errors) problems.push(`${errors} request errors`);
  return { results, events: merchant?.events ?? null, problems };
}

if (isMain) {
  const { problems, events } = await runLoad();
  if (problems.length) {
    console.error(`FAILED: ${problems.join("; ")}`);
    process.exit(1);
  }
  console.log(`No errors; no lost or double transitions${events ? "; every order.paid delivered once per change" : ""}.`);
}
