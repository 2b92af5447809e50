// Storage round trips of the payment notification, counted (not timed): a first notify costs one
// KV read, one D1 batch and one KV write before its ACK (and, after it, one read of the merchant
// events it created, one batch); a duplicate that KV already knows costs one KV read and nothing in D1.
// `npm run bench` prints the same counts.
import { env } from "cloudflare:workers";
import { beforeAll, expect, it } from "vitest";
import { app } from "../../src/app";
import { ORIGIN, createOrder, login, payNotifyFields, putProduct, signedNotifyXml } from "./harness";

interface Counts {
  d1: Record<string, number>;
  kv: Record<string, number>;
}

/** Wraps D1 and KV bindings so every call is counted by method. */
function counting(): { env: typeof env; counts: Counts } {
  const counts: Counts = { d1: {}, kv: {} };
  const count = (bucket: Record<string, number>, name: string) => (bucket[name] = (bucket[name] ?? 0) + 1);
  const statement = (stmt: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (prop === "bind") return (...args: unknown[]) => statement(value.apply(target, args));
        if (prop === "run" || prop === "first" || prop === "all" || prop === "raw") {
          return (...args: unknown[]) => (count(counts.d1, String(prop)), value.apply(target, args));
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const db = new Proxy(env.DB, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (prop === "prepare") return (sql: string) => statement(value.call(target, sql));
      if (prop === "batch") return (statements: D1PreparedStatement[]) => (count(counts.d1, "batch"), value.call(target, statements));
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const kv = new Proxy(env.NOTIFY_KV, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => (count(counts.kv, String(prop)), value.apply(target, args));
    },
  });
  return { env: { ...env, DB: db, NOTIFY_KV: kv }, counts };
}

/** An execution context whose waitUntil work (what runs after the response) can be awaited. */
function afterResponse() {
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil: (promise: Promise<unknown>) => void pending.push(promise),
    passThroughOnException: () => {},
    props: {},
    settled: () => Promise.all(pending),
    handedOver: () => pending.length,
  };
}

let token: string;
beforeAll(async () => {
  await putProduct("cost-item", "Cost item", 300);
  token = await login("cost");
});

it("first notify: 1 KV get, 1 D1 batch, 1 KV put; duplicate known to KV: 1 KV get, no D1", async () => {
  const { body } = await createOrder(token, [{ sku: "cost-item", quantity: 1 }]);
  const xml = signedNotifyXml(payNotifyFields({ outTradeNo: body.order.outTradeNo, totalFee: 300 }));

  const first = counting();
  const ctx = afterResponse();
  const reply = await app.request(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body: xml }, first.env, ctx);
  expect(reply.status).toBe(200);
  // Before the ACK: one D1 batch (the payment and its events) and the KV hint; taking the merchant
  // events it created for the Queue is handed to waitUntil.
  expect(first.counts).toEqual({ d1: { batch: 1 }, kv: { get: 1, put: 1 } });
  expect(ctx.handedOver()).toBe(1);
  await ctx.settled();
  expect(first.counts).toEqual({ d1: { batch: 2 }, kv: { get: 1, put: 1 } });

  const duplicate = counting();
  const again = await app.request(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body: xml }, duplicate.env);
  expect(again.status).toBe(200);
  expect(duplicate.counts).toEqual({ d1: {}, kv: { get: 1 } });
});

it("duplicate that KV does not know (hint expired or KV lagging): 1 KV get, 1 D1 batch, no state change", async () => {
  const { body } = await createOrder(token, [{ sku: "cost-item", quantity: 1 }]);
  const xml = signedNotifyXml(payNotifyFields({ outTradeNo: body.order.outTradeNo, totalFee: 300 }));
  await app.request(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body: xml }, env);
  for (const key of (await env.NOTIFY_KV.list({ prefix: "paid:" })).keys) await env.NOTIFY_KV.delete(key.name);

  const cold = counting();
  const ctx = afterResponse();
  const reply = await app.request(`${ORIGIN}/wechat/pay/notify`, { method: "POST", body: xml }, cold.env, ctx);
  expect(reply.status).toBe(200);
  await ctx.settled(); // nothing was inserted, so nothing is looked up after the ACK either
  expect(cold.counts.d1).toEqual({ batch: 1 });
  expect(cold.counts.kv).toEqual({ get: 1, put: 1 }); // the hint is written again
});
