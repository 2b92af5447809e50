// The scheduled reconciliation job (cron → exports.default.scheduled, and POST /admin/reconcile) against the
// simulator: F14 (a payment whose notify never arrives is PAID after one run, exactly once), expired
// orders closed (or found paid), refunds finished by refundquery when their notify never comes, F12
// (the refund API times out after WeChat accepted), refunds that never reached WeChat re-sent with the
// same out_refund_no, two runs at once, the subrequest and D1 query bounds, and per-item failure
// isolation.
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { loadConfig } from "../../src/config";
import { buildDeps } from "../../src/orders/deps";
import { DEFAULT_RECONCILE_LIMITS as LIMITS, runReconciliation, type ReconcileSummary } from "../../src/orders/reconcile";
import { ORIGIN, api, login, payInWechat, putProduct, sim } from "./harness";
import {
  ageOrder, ageRefund, completeAtWechat, deliverOwn, eventsOf, newOrder, orderRow, paidOrder, received, reconcile, refundRow,
  requestRefund, runCron, spyWechat, wechatReply,
} from "./refund-harness";

const MINUTES = 60_000;

let token: string;
beforeAll(async () => {
  await putProduct("rc-item", "Reconcile item", 100);
  token = await login("reconcile");
});
afterEach(() => vi.restoreAllMocks());

/** A NOTPAY order the user paid in WeChat whose notification was lost; old enough for the job. */
async function paidWithoutNotify() {
  const { order, payment } = await newOrder(token, "rc-item");
  const paid = await payInWechat(payment, { notify: "none" });
  await ageOrder(order.outTradeNo, 2 * MINUTES);
  return { outTradeNo: order.outTradeNo, transactionId: paid.transactionId };
}

/**
 * Earlier tests of this file leave open items (an order paid too recently to be queried, a refund
 * too young, ...) that become due once a minute has passed, e.g. when a slow run stretches the file.
 * Parking them (checked "in the future") keeps a test's exact counts about its own items.
 */
async function parkLeftovers() {
  const later = Date.now() + 24 * 3600_000;
  await env.DB.batch([
    env.DB.prepare("UPDATE orders SET last_query_at = ?1 WHERE status IN ('NOTPAY', 'PAYERROR')").bind(later),
    env.DB.prepare("UPDATE refunds SET updated_at = ?1 WHERE status IN ('PROCESSING', 'CHANGE')").bind(later),
  ]);
}

/**
 * env.DB counting its queries, written here independently of the job's own counter: each executed
 * statement (run/first/all/raw) and each batch() counts one, as D1's per-invocation limit does.
 */
function countingDb(db: D1Database) {
  const count = { queries: 0 };
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get: (target, prop) => {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (["run", "first", "all", "raw"].includes(String(prop))) count.queries++;
          return value.apply(target, args);
        };
      },
    });
    unwrap.set(proxy, stmt);
    return proxy;
  };
  const counted = new Proxy(db, {
    get: (target, prop) => {
      if (prop === "prepare") return (sql: string) => wrap(target.prepare(sql));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          count.queries++;
          return target.batch(statements.map((s) => unwrap.get(s) ?? s));
        };
      }
      if (prop === "exec" || prop === "withSession") throw new Error(`countingDb: ${String(prop)} is not counted`);
      return Reflect.get(target, prop).bind(target);
    },
  });
  return { db: counted, count };
}

/** POST /admin/reconcile with env.DB counted; returns the summary, the D1 queries and the WeChat calls seen. */
async function countedReconcile() {
  const { db, count } = countingDb(env.DB);
  const { paths } = spyWechat();
  try {
    const res = await app.request(`${ORIGIN}/admin/reconcile`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }, { ...env, DB: db });
    expect(res.status).toBe(200);
    return { summary: (await res.json()) as ReconcileSummary, d1Queries: count.queries, wechatCalls: paths.length };
  } finally {
    vi.restoreAllMocks();
  }
}

/** A PROCESSING refund WeChat accepted, finished at WeChat without a notification, old enough for the job. */
async function refundWithoutNotify(refundFee = 100) {
  const order = await paidOrder(token, "rc-item");
  const refund = (await requestRefund(order.outTradeNo, refundFee)).body.refund;
  await completeAtWechat(refund.outRefundNo, "SUCCESS", "none");
  await ageRefund(refund.outRefundNo, 2 * MINUTES);
  return { order, outRefundNo: refund.outRefundNo as string };
}

describe("orders", () => {
  it("F14 a paid order whose notify never comes is PAID after one scheduled run, with exactly one applied event", async () => {
    const { outTradeNo, transactionId } = await paidWithoutNotify();
    expect((await orderRow(outTradeNo)).status).toBe("NOTPAY");
    const result = await runCron();
    expect(result.outcome).toBe("ok");
    expect(await orderRow(outTradeNo)).toMatchObject({ status: "PAID", transaction_id: transactionId });
    expect((await eventsOf(outTradeNo)).map((e) => [e.identity, e.kind, e.verdict])).toEqual([[`pay:${transactionId}`, "reconcile", "applied"]]);
    // The late notification (or a second run) changes nothing.
    await ageOrder(outTradeNo, 2 * MINUTES);
    await runCron();
    expect(await eventsOf(outTradeNo)).toHaveLength(1);
  });

  it("POST /admin/reconcile runs the same job and answers its summary", async () => {
    const { outTradeNo } = await paidWithoutNotify();
    const reply = await reconcile();
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual(
      ["closed", "d1Queries", "errors", "expired", "paid", "payError", "queried", "refundsQueried", "refundsRetried", "refundsUpdated", "wechatCalls"].sort(),
    );
    expect(reply.body.paid).toBeGreaterThanOrEqual(1);
    expect(reply.body.queried).toBeGreaterThanOrEqual(1);
    expect(reply.body.errors).toBe(0);
    expect((await orderRow(outTradeNo)).status).toBe("PAID");
  });

  it("orders younger than RECONCILE_DELAY_SECONDS are left alone", async () => {
    const { order, payment } = await newOrder(token, "rc-item");
    await payInWechat(payment, { notify: "none" });
    await reconcile();
    expect(await received("/pay/orderquery", "out_trade_no", order.outTradeNo)).toEqual([]);
    expect((await orderRow(order.outTradeNo)).status).toBe("NOTPAY");
  });

  it("an expired unpaid order is closed at WeChat (closeorder) and CLOSED locally", async () => {
    const { order } = await newOrder(token, "rc-item");
    await ageOrder(order.outTradeNo, 40 * MINUTES, { expire: true });
    const reply = await reconcile();
    expect(reply.body.expired).toBeGreaterThanOrEqual(1);
    expect(await received("/pay/closeorder", "out_trade_no", order.outTradeNo)).toHaveLength(1);
    expect((await sim("GET", `/orders/${order.outTradeNo}`)).body.state).toBe("CLOSED");
    expect((await orderRow(order.outTradeNo)).status).toBe("CLOSED");
    expect((await eventsOf(order.outTradeNo)).map((e) => [e.identity, e.kind])).toEqual([[`close:${order.outTradeNo}`, "reconcile"]]);
    // It cannot be paid any more.
    const pay = await api("POST", `/api/orders/${order.outTradeNo}/payment`, { token });
    expect(pay.status).toBe(409);
  });

  it("an expired order that was paid after all (closeorder → ORDERPAID) becomes PAID, never CLOSED", async () => {
    const { outTradeNo, transactionId } = await paidWithoutNotify();
    await ageOrder(outTradeNo, 40 * MINUTES, { expire: true });
    const reply = await reconcile();
    expect(reply.body.paid).toBeGreaterThanOrEqual(1);
    expect(await orderRow(outTradeNo)).toMatchObject({ status: "PAID", transaction_id: transactionId });
    expect((await eventsOf(outTradeNo)).map((e) => e.identity)).toEqual([`pay:${transactionId}`]);
  });

  it("WeChat reporting PAYERROR or CLOSED is applied through the same transition", async () => {
    const failed = await newOrder(token, "rc-item");
    await payInWechat(failed.payment, { notify: "none", result: "FAIL" });
    await ageOrder(failed.order.outTradeNo, 2 * MINUTES);
    const closed = await newOrder(token, "rc-item");
    await ageOrder(closed.order.outTradeNo, 2 * MINUTES);
    spyWechat(async (request, path) => {
      if (path !== "/pay/orderquery" || !(await request.text()).includes(closed.order.outTradeNo)) return undefined;
      return wechatReply({ result_code: "SUCCESS", out_trade_no: closed.order.outTradeNo, trade_state: "CLOSED", total_fee: "100" });
    });
    const reply = await reconcile();
    expect(reply.body.payError).toBeGreaterThanOrEqual(1);
    expect(reply.body.closed).toBeGreaterThanOrEqual(1);
    expect((await orderRow(failed.order.outTradeNo)).status).toBe("PAYERROR");
    expect((await orderRow(closed.order.outTradeNo)).status).toBe("CLOSED");
  });
});

describe("refunds", () => {
  it("a refund whose notify never comes is finished by the scheduled job (refundquery)", async () => {
    const { order, outRefundNo } = await refundWithoutNotify();
    const reply = await reconcile();
    expect(reply.body.refundsUpdated).toBeGreaterThanOrEqual(1);
    expect(await refundRow(outRefundNo)).toMatchObject({ status: "SUCCESS" });
    expect((await refundRow(outRefundNo)).succeeded_at).toBeGreaterThan(0);
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100 });
    const events = (await eventsOf(order.outTradeNo)).filter((e) => e.out_refund_no === outRefundNo);
    expect(events.map((e) => [e.identity, e.kind])).toEqual([
      [`refund:${outRefundNo}:PROCESSING`, "admin_refund"],
      [`refund:${outRefundNo}:SUCCESS`, "reconcile"],
    ]);
  });

  it("refunds created less than a minute ago are not queried yet", async () => {
    const order = await paidOrder(token, "rc-item");
    const refund = (await requestRefund(order.outTradeNo, 10)).body.refund;
    await reconcile();
    expect(await received("/pay/refundquery", "out_refund_no", refund.outRefundNo)).toEqual([]);
  });

  it("F12 the refund API times out after WeChat accepted it: PROCESSING, then the job finishes it via refundquery", async () => {
    const order = await paidOrder(token, "rc-item");
    spyWechat(async (request, path, forward) => {
      if (path !== "/secapi/pay/refund") return undefined;
      await (await forward(request)).text(); // WeChat processes it...
      throw new DOMException("The operation timed out", "TimeoutError"); // ...and the reply is lost
    });
    const reply = await requestRefund(order.outTradeNo, 100);
    expect(reply.status).toBe(201);
    const outRefundNo = reply.body.refund.outRefundNo;
    expect(await refundRow(outRefundNo)).toMatchObject({ status: "PROCESSING", refund_id: null });
    vi.restoreAllMocks();
    const atWechat = await sim("GET", `/refunds/${outRefundNo}`);
    expect(atWechat.body).toMatchObject({ status: "PROCESSING", refundFee: 100 });

    // Still in progress at WeChat: the job learns the refund_id and leaves it PROCESSING.
    await ageRefund(outRefundNo, 2 * MINUTES);
    const first = await reconcile();
    expect(first.body.refundsRetried).toBe(0);
    expect(await refundRow(outRefundNo)).toMatchObject({ status: "PROCESSING", refund_id: atWechat.body.refundId });

    // WeChat finishes it; the notification is lost; the next run applies it.
    await completeAtWechat(outRefundNo, "SUCCESS", "none");
    await ageRefund(outRefundNo, 2 * MINUTES);
    await reconcile();
    expect(await refundRow(outRefundNo)).toMatchObject({ status: "SUCCESS", refund_id: atWechat.body.refundId });
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "REFUNDED", refunded_fee: 100 });
    // WeChat was asked to refund exactly once: nothing was re-sent.
    expect(await received("/secapi/pay/refund", "out_refund_no", outRefundNo)).toHaveLength(1);
  });

  it("a refund whose call never reached WeChat is re-sent with the same out_refund_no and parameters", async () => {
    const order = await paidOrder(token, "rc-item");
    spyWechat(async (_request, path) => {
      if (path === "/secapi/pay/refund") throw new TypeError("Network connection lost");
      return undefined;
    });
    const outRefundNo = (await requestRefund(order.outTradeNo, 30, "wrong size")).body.refund.outRefundNo;
    vi.restoreAllMocks();
    expect(await received("/secapi/pay/refund", "out_refund_no", outRefundNo)).toEqual([]);

    await ageRefund(outRefundNo, 2 * MINUTES);
    const reply = await reconcile();
    expect(reply.body.refundsRetried).toBe(1);
    const [resent] = await received("/secapi/pay/refund", "out_refund_no", outRefundNo);
    expect(resent!.fields).toMatchObject({
      out_trade_no: order.outTradeNo, out_refund_no: outRefundNo, total_fee: "100", refund_fee: "30",
      refund_desc: "wrong size", notify_url: "https://shop.example/wechat/refund/notify",
    });
    const row = await refundRow(outRefundNo);
    expect(row).toMatchObject({ status: "PROCESSING" });
    expect(row.refund_id).toMatch(/^503/);
    // From here the normal path: WeChat notifies, the refund is applied.
    await deliverOwn(await completeAtWechat(outRefundNo, "SUCCESS"));
    expect(await orderRow(order.outTradeNo)).toMatchObject({ status: "PAID", refunded_fee: 30 });
  });

  it("a re-send (cron, no request) uses the same notify_url as the first call: derived from the order", async () => {
    const order = await paidOrder(token, "rc-item");
    spyWechat(async (_request, path) => {
      if (path === "/secapi/pay/refund") throw new TypeError("Network connection lost");
      return undefined;
    });
    const outRefundNo = (await requestRefund(order.outTradeNo, 5)).body.refund.outRefundNo;
    vi.restoreAllMocks();
    await ageRefund(outRefundNo, 2 * MINUTES);
    await runCron();
    const [resent] = await received("/secapi/pay/refund", "out_refund_no", outRefundNo);
    expect(resent!.fields!.notify_url).toBe("https://shop.example/wechat/refund/notify");
  });
});

describe("concurrency, bounds, failures", () => {
  beforeEach(parkLeftovers);

  it("two reconciliation runs at once do not double-apply (and split the work)", async () => {
    const orders = await Promise.all(Array.from({ length: 4 }, () => paidWithoutNotify()));
    const refunds = [await refundWithoutNotify(60), await refundWithoutNotify(40)];
    const [a, b] = await Promise.all([reconcile(), reconcile()]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.paid + b.body.paid).toBe(4);
    expect(a.body.refundsUpdated + b.body.refundsUpdated).toBe(2);
    for (const order of orders) {
      expect((await orderRow(order.outTradeNo)).status).toBe("PAID");
      expect((await eventsOf(order.outTradeNo)).map((e) => e.identity)).toEqual([`pay:${order.transactionId}`]);
      expect(await received("/pay/orderquery", "out_trade_no", order.outTradeNo)).toHaveLength(1);
    }
    for (const refund of refunds) {
      expect((await refundRow(refund.outRefundNo)).status).toBe("SUCCESS");
      expect((await eventsOf(refund.order.outTradeNo)).filter((e) => e.identity.endsWith(":SUCCESS"))).toHaveLength(1);
      expect(await received("/pay/refundquery", "out_refund_no", refund.outRefundNo)).toHaveLength(1);
    }
    expect((await orderRow(refunds[0]!.order.outTradeNo)).refunded_fee).toBe(60);
  });

  it("each claim is stamped with the time it was made, not the run's start (a long run is not re-claimed by a later one)", async () => {
    const orders: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { order } = await newOrder(token, "rc-item");
      await ageOrder(order.outTradeNo, (3 - i) * 1000 + 2 * MINUTES);
      orders.push(order.outTradeNo);
    }
    // A slow run: every look at the clock is 10 s later than the one before.
    const config = loadConfig(env);
    if (!config.ok) throw new Error("test config");
    const start = Date.now();
    let ticks = 0;
    const summary = await runReconciliation(buildDeps(env, config.config, () => new Date(start + 10_000 * ticks++)));
    expect(summary.queried).toBe(3);
    const stamps = await Promise.all(orders.map(async (no) => (await orderRow(no)).last_query_at as number));
    expect(stamps.every((t) => t > start)).toBe(true);
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps); // claimed oldest first, each at its own time
    expect(new Set(stamps).size).toBe(3);
    await env.DB.prepare(`UPDATE orders SET status = 'CLOSED' WHERE out_trade_no IN (?, ?, ?)`).bind(...orders).run();
  });

  it("the subrequest and D1 query bounds hold with many pending orders and refunds, oldest first, the rest on the next runs", async () => {
    // 18 accepted refunds still PROCESSING at WeChat, and 26 NOTPAY orders nobody paid.
    const pendingRefunds: string[] = [];
    for (let i = 0; i < 18; i++) {
      const order = await paidOrder(token, "rc-item");
      const outRefundNo = (await requestRefund(order.outTradeNo, 1)).body.refund.outRefundNo as string;
      await ageRefund(outRefundNo, (30 - i) * MINUTES);
      pendingRefunds.push(outRefundNo);
    }
    const pendingOrders: string[] = [];
    for (let i = 0; i < 26; i++) {
      const { order } = await newOrder(token, "rc-item");
      await ageOrder(order.outTradeNo, (30 - i) * 1000 + 2 * MINUTES);
      pendingOrders.push(order.outTradeNo);
    }
    const askedRefunds = async () => {
      const asked = new Set((await sim("GET", "/received?path=/pay/refundquery")).body.requests.map((r: any) => r.fields?.out_refund_no));
      return pendingRefunds.filter((no) => asked.has(no));
    };
    const askedOrders = async () => {
      const asked = new Set((await sim("GET", "/received?path=/pay/orderquery")).body.requests.map((r: any) => r.fields?.out_trade_no));
      return pendingOrders.filter((no) => asked.has(no));
    };

    const runs: Awaited<ReturnType<typeof countedReconcile>>[] = [];
    while (runs.length < 5 && ((await askedRefunds()).length < pendingRefunds.length || (await askedOrders()).length < pendingOrders.length)) {
      const run = await countedReconcile();
      runs.push(run);
      // Both budgets of the invocation: under 40 WeChat calls and under 50 D1 queries (free plan).
      expect(run.wechatCalls).toBeLessThan(40);
      expect(run.wechatCalls).toBeLessThanOrEqual(LIMITS.wechatCalls);
      expect(run.d1Queries).toBeLessThan(50);
      expect(run.d1Queries).toBeLessThanOrEqual(LIMITS.d1Queries);
      // The job counts both for real.
      expect(run.summary.wechatCalls).toBe(run.wechatCalls);
      expect(run.summary.d1Queries).toBe(run.d1Queries);
      expect(run.summary.refundsQueried).toBeLessThanOrEqual(LIMITS.refundWechatCalls);
      expect(run.summary.errors).toBe(0);
      expect(run.summary.refundsQueried + run.summary.queried).toBeGreaterThan(0); // every run makes progress

      if (runs.length === 1) {
        // One run cannot do it all; it took the least recently checked refunds and the oldest orders.
        expect(run.summary.refundsQueried).toBeLessThan(pendingRefunds.length);
        expect(run.summary.queried).toBeLessThan(pendingOrders.length);
        expect(await askedRefunds()).toEqual(pendingRefunds.slice(0, run.summary.refundsQueried));
        expect(await askedOrders()).toEqual(pendingOrders.slice(0, run.summary.queried));
      }
    }
    // The rest was picked up by the next runs: every pending order and refund asked about exactly once.
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.length).toBeLessThanOrEqual(4);
    expect(runs.reduce((n, r) => n + r.summary.refundsQueried, 0)).toBe(pendingRefunds.length);
    expect(runs.reduce((n, r) => n + r.summary.queried, 0)).toBe(pendingOrders.length);
    for (const no of pendingOrders) expect(await received("/pay/orderquery", "out_trade_no", no), no).toHaveLength(1);
    for (const no of pendingRefunds) expect(await received("/pay/refundquery", "out_refund_no", no), no).toHaveLength(1);
    // Clean up for later tests: nobody will pay these.
    await env.DB.prepare(`UPDATE orders SET status = 'CLOSED' WHERE out_trade_no IN (${pendingOrders.map(() => "?").join(",")})`).bind(...pendingOrders).run();
    for (const no of pendingRefunds) await deliverOwn(await completeAtWechat(no, "SUCCESS"));
  }, 60_000); // 44 orders and 18 refunds set up over HTTP: seconds of work on a busy CI machine

  it("a failure for one order (WeChat or D1) does not stop the others; it is counted and retried later", async () => {
    const orders = await Promise.all(Array.from({ length: 3 }, () => paidWithoutNotify()));
    const [sick, ...healthy] = orders;
    spyWechat(async (request, path) =>
      path === "/pay/orderquery" && (await request.text()).includes(sick!.outTradeNo) ? new Response("bad gateway", { status: 502 }) : undefined,
    );
    const first = await reconcile();
    expect(first.body.errors).toBeGreaterThanOrEqual(1);
    for (const order of healthy) expect((await orderRow(order.outTradeNo)).status).toBe("PAID");
    expect((await orderRow(sick!.outTradeNo)).status).toBe("NOTPAY");
    vi.restoreAllMocks();

    // D1 fails on the next transition batch; the run goes on with the remaining items.
    const second = [await paidWithoutNotify(), await paidWithoutNotify()];
    await ageOrder(sick!.outTradeNo, 2 * MINUTES);
    let failures = 0;
    const flaky = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === "batch"
          ? (statements: D1PreparedStatement[]) => (failures++ === 0 ? Promise.reject(new Error("D1_ERROR: Network connection lost")) : target.batch(statements))
          : Reflect.get(target, prop).bind(target),
    });
    const res = await app.request(`${ORIGIN}/admin/reconcile`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }, { ...env, DB: flaky });
    const summary = (await res.json()) as Record<string, number>;
    expect(res.status).toBe(200);
    expect(summary.errors).toBe(1);
    expect(summary.paid).toBe(2);
    const statuses = await Promise.all([sick!, ...second].map(async (o) => (await orderRow(o.outTradeNo)).status));
    expect(statuses.filter((s) => s === "PAID")).toHaveLength(2);

    // The one that failed is picked up by a later run.
    for (const o of [sick!, ...second]) await ageOrder(o.outTradeNo, 2 * MINUTES);
    await reconcile();
    for (const o of [sick!, ...second]) {
      expect((await orderRow(o.outTradeNo)).status).toBe("PAID");
      expect((await eventsOf(o.outTradeNo)).filter((e) => e.verdict === "applied")).toHaveLength(1);
    }
  });
});
