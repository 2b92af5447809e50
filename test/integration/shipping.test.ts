// Shipping information (发货信息管理) against the simulator: uploads (validation before WeChat,
// UPLOADED / PENDING / FAILED and their events, Idempotency-Key), the stable access token (KV cache,
// one fetch for concurrent callers, one forced refresh on 42001), the automatic upload of an
// all-virtual order, the account status, and the mini-program message push (URL check, safe and
// plain mode, JSON and XML, settlement once, replays, bad signatures, reminders, unknown events).
import { createExecutionContext, createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import worker from "../../src/index";
import { ORIGIN, admin, api, login, postNotify, putProduct, rows, sim, snapshot } from "./harness";
import { deliverOwn, paidOrder, runCron } from "./refund-harness";

let token: string;
beforeAll(async () => {
  await putProduct("ship-item", "Ship item", 100);
  const reply = await admin("PUT", "/products/ship-ebook", { name: "E-book", priceFen: 50, fulfilment: "virtual" });
  expect(reply.body.product).toMatchObject({ fulfilment: "virtual" });
  token = await login("shipping");
});
afterEach(async () => {
  vi.restoreAllMocks();
  await sim("POST", "/shipping/settings", { tradeManaged: true, confirmationCompleted: false });
});

const express = (overrides: Record<string, unknown> = {}) => ({
  logisticsType: "express",
  items: [{ trackingNo: "SF1234567890", expressCompany: "SF", itemDesc: "Oolong tea 250g", contact: { receiverContact: "189****1234" } }],
  ...overrides,
});
const ship = (outTradeNo: string, body: unknown, key?: string) =>
  api("POST", `/admin/orders/${outTradeNo}/shipments`, { token: env.ADMIN_TOKEN, body, headers: key ? { "idempotency-key": key } : {} });
const shipmentsOf = (outTradeNo: string) => rows("SELECT * FROM shipments WHERE out_trade_no = ? ORDER BY created_at", outTradeNo);
const merchantTypes = async (outTradeNo: string) =>
  (await rows<{ type: string }>("SELECT type FROM merchant_events WHERE out_trade_no = ? ORDER BY seq", outTradeNo)).map((r) => r.type);
const uploadsFor = async (transactionId: string) =>
  (await sim("GET", "/received?path=/wxa/sec/order/upload_shipping_info")).body.requests.filter(
    (r: { raw: string }) => JSON.parse(r.raw).order_key?.transaction_id === transactionId,
  );

describe("uploading a shipment", () => {
  it("express, SF with a masked phone → 201 UPLOADED; WeChat has it; shipment.uploaded; the order views list it", async () => {
    const order = await paidOrder(token, "ship-item");
    const reply = await ship(order.outTradeNo, express());
    expect(reply.status).toBe(201);
    expect(reply.body.shipment).toMatchObject({
      id: expect.stringMatching(/^shp_[0-9a-f]{24}$/), outTradeNo: order.outTradeNo, logisticsType: "express", status: "UPLOADED",
      errCode: null, allDelivered: null, uploadedAt: expect.any(String),
    });
    const atWechat = await sim("GET", `/shipping/${order.transactionId}`);
    expect(atWechat.body.order.order_state).toBe(2);
    expect(atWechat.body.order.shipping.shipping_list[0]).toMatchObject({ tracking_no: "SF1234567890", express_company: "SF" });
    expect(await merchantTypes(order.outTradeNo)).toEqual(["order.paid", "shipment.uploaded"]);
    const view = await admin("GET", `/orders/${order.outTradeNo}`);
    expect(view.body.shipments).toEqual([reply.body.shipment]);
    const own = await api("GET", `/api/orders/${order.outTradeNo}`, { token });
    expect(own.body.shipments).toEqual([reply.body.shipment]);
  });

  it("what WeChat would refuse is refused first with a 400 naming the field; nothing is stored or sent", async () => {
    const order = await paidOrder(token, "ship-item");
    const before = await snapshot();
    const cases: [unknown, RegExp][] = [
      [express({ logisticsType: "drone" }), /^logisticsType must be one of/],
      [express({ items: [] }), /^items must have 1 to 15/],
      [express({ items: Array.from({ length: 16 }, () => ({ trackingNo: "T1", expressCompany: "YTO", itemDesc: "x" })), allDelivered: false }), /^items must have 1 to 15/],
      [express({ items: [{ trackingNo: "T1", expressCompany: "YTO", itemDesc: "a" }, { trackingNo: "T2", expressCompany: "YTO", itemDesc: "b" }] }), /unified delivery has exactly one/],
      [{ logisticsType: "same_city", items: [{ itemDesc: "x" }], allDelivered: true }, /^allDelivered: only an express/],
      [express({ items: [{ trackingNo: "T1", expressCompany: "SF", itemDesc: "x" }] }), /^items\[0\]\.contact is required when expressCompany is SF/],
      [express({ items: [{ trackingNo: "T1", expressCompany: "SF", itemDesc: "x", contact: { receiverContact: "18912341234" } }] }), /masked phone/],
      [express({ items: [{ trackingNo: "T1", expressCompany: "YTO", itemDesc: "茶".repeat(121) }] }), /^items\[0\]\.itemDesc must be 1 to 120/],
      [express({ items: [{ expressCompany: "YTO", itemDesc: "x" }] }), /^items\[0\]\.trackingNo is required/],
      [express({ items: [{ trackingNo: "T1", itemDesc: "x" }] }), /^items\[0\]\.expressCompany is required/],
    ];
    for (const [body, message] of cases) {
      const reply = await ship(order.outTradeNo, body);
      expect(reply.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(reply.body.error.message).toMatch(message);
    }
    expect(await snapshot()).toEqual(before);
    expect(await uploadsFor(order.transactionId)).toEqual([]);
  });

  it("an order that is not PAID → 409 NOT_SHIPPABLE; an unknown one → 404", async () => {
    const created = await api("POST", "/api/orders", { token, body: { items: [{ sku: "ship-item", quantity: 1 }] } });
    const reply = await ship(created.body.order.outTradeNo, express());
    expect([reply.status, reply.body.error.code]).toEqual([409, "NOT_SHIPPABLE"]);
    expect((await ship("NOSUCHORDER0001", express())).status).toBe(404);
  });

  it("an Idempotency-Key replay returns the first shipment without a second upload", async () => {
    const order = await paidOrder(token, "ship-item");
    const [first, second] = [await ship(order.outTradeNo, express(), "ship-intent-1"), await ship(order.outTradeNo, express(), "ship-intent-1")];
    expect(first.status).toBe(201);
    expect(second.body.shipment.id).toBe(first.body.shipment.id);
    expect(await shipmentsOf(order.outTradeNo)).toHaveLength(1);
    expect(await uploadsFor(order.transactionId)).toHaveLength(1);
  });

  it("WeChat refuses (the service is not enabled: 48001) → FAILED with errCode, 502 naming it, shipment.failed", async () => {
    const order = await paidOrder(token, "ship-item");
    await sim("POST", "/shipping/settings", { tradeManaged: false });
    const reply = await ship(order.outTradeNo, express());
    expect(reply.status).toBe(502);
    expect(reply.body.error).toMatchObject({ code: "UPSTREAM_ERROR", errCode: "48001", shipmentId: expect.stringMatching(/^shp_/) });
    expect((await shipmentsOf(order.outTradeNo))[0]).toMatchObject({ status: "FAILED", err_code: 48001 });
    expect(await merchantTypes(order.outTradeNo)).toEqual(["order.paid", "shipment.failed"]);
  });

  it("every logistics type and a split delivery: same-city, pickup, two express parcels (allDelivered false then true)", async () => {
    const sameCity = await paidOrder(token, "ship-item");
    expect((await ship(sameCity.outTradeNo, { logisticsType: "same_city", items: [{ itemDesc: "Courier on foot" }] })).status).toBe(201);
    expect((await sim("GET", `/shipping/${sameCity.transactionId}`)).body.order.shipping.logistics_type).toBe(2);
    const pickup = await paidOrder(token, "ship-item");
    expect((await ship(pickup.outTradeNo, { logisticsType: "pickup", items: [{ itemDesc: "Collected in store" }] })).status).toBe(201);
    expect((await sim("GET", `/shipping/${pickup.transactionId}`)).body.order.shipping.logistics_type).toBe(4);

    const split = await paidOrder(token, "ship-item");
    const parcel = (n: number) => ({ trackingNo: `YT${n}000000001`, expressCompany: "YTO", itemDesc: `Parcel ${n}` });
    const first = await ship(split.outTradeNo, { logisticsType: "express", items: [parcel(1)], allDelivered: false });
    expect([first.status, first.body.shipment.allDelivered]).toEqual([201, false]);
    const uploaded = JSON.parse((await uploadsFor(split.transactionId))[0].raw);
    expect(uploaded).toMatchObject({ delivery_mode: 2, is_all_delivered: false, logistics_type: 1 });
    const second = await ship(split.outTradeNo, { logisticsType: "express", items: [parcel(1), parcel(2)], allDelivered: true });
    expect(second.status).toBe(201);
    expect((await sim("GET", `/shipping/${split.transactionId}`)).body.order.order_state).toBe(2);
  });

  it("WeChat allows one update after the first upload: the third upload is refused (10060003) → FAILED, 502", async () => {
    const order = await paidOrder(token, "ship-item");
    const attempt = (n: number) => ship(order.outTradeNo, express({ items: [{ trackingNo: `SF${n}00000000`, expressCompany: "SF", itemDesc: "Oolong tea", contact: { receiverContact: "189****1234" } }] }));
    expect((await attempt(1)).status).toBe(201);
    expect((await attempt(2)).status).toBe(201);
    const third = await attempt(3);
    expect(third.status).toBe(502);
    expect(third.body.error).toMatchObject({ code: "UPSTREAM_ERROR", errCode: "10060003" });
    expect((await shipmentsOf(order.outTradeNo)).map((r) => r.status)).toEqual(["UPLOADED", "UPLOADED", "FAILED"]);
    expect(await merchantTypes(order.outTradeNo)).toEqual(["order.paid", "shipment.uploaded", "shipment.uploaded", "shipment.failed"]);
  });

  it("10060023 (WeChat already has exactly this upload: a retry after a lost reply) → UPLOADED; 10060012 (busy) and HTTP 500 → PENDING", async () => {
    const order = await paidOrder(token, "ship-item");
    await sim("POST", "/faults", { path: "/wxa/sec/order/upload_shipping_info", fault: "business", errCode: "10060023" });
    expect((await ship(order.outTradeNo, express())).status).toBe(201);
    expect((await shipmentsOf(order.outTradeNo))[0]).toMatchObject({ status: "UPLOADED" });
    const busy = await paidOrder(token, "ship-item");
    await sim("POST", "/faults", { path: "/wxa/sec/order/upload_shipping_info", fault: "business", errCode: "10060012" });
    const reply = await ship(busy.outTradeNo, express());
    expect([reply.status, reply.body.shipment.status]).toEqual([202, "PENDING"]);
    const down = await paidOrder(token, "ship-item");
    await sim("POST", "/faults", { path: "/wxa/sec/order/upload_shipping_info", fault: "http500" });
    const unreachable = await ship(down.outTradeNo, express());
    expect([unreachable.status, unreachable.body.shipment.status]).toEqual([202, "PENDING"]);
  });

  it("the Idempotency-Key 'auto' is reserved (the automatic shipment of virtual orders uses it); itemDesc is text", async () => {
    const order = await paidOrder(token, "ship-item");
    const reserved = await ship(order.outTradeNo, express(), "auto");
    expect([reserved.status, reserved.body.error.message]).toEqual([400, expect.stringContaining("reserved")]);
    const control = await ship(order.outTradeNo, { logisticsType: "virtual", items: [{ itemDesc: "tea\u0007" }] });
    expect([control.status, control.body.error.message]).toEqual([400, expect.stringContaining("items[0].itemDesc")]);
    expect(await shipmentsOf(order.outTradeNo)).toEqual([]);
  });

  it("WeChat busy (-1) → 202 PENDING; the cron uploads it once it is due", async () => {
    const order = await paidOrder(token, "ship-item");
    await sim("POST", "/faults", { path: "/wxa/sec/order/upload_shipping_info", fault: "systemerror" });
    const reply = await ship(order.outTradeNo, express());
    expect([reply.status, reply.body.shipment.status]).toEqual([202, "PENDING"]);
    await env.DB.prepare("UPDATE shipments SET next_attempt_at = ? WHERE out_trade_no = ?").bind(Date.now() - 1, order.outTradeNo).run();
    await runCron();
    expect((await shipmentsOf(order.outTradeNo))[0]).toMatchObject({ status: "UPLOADED", attempts: 2 });
    expect(await merchantTypes(order.outTradeNo)).toEqual(["order.paid", "shipment.uploaded"]);
  });
});

describe("the access token", () => {
  it("is fetched once and cached in KV; an expired one is fetched again once, never logged", async () => {
    await env.NOTIFY_KV.delete(`wx:stable_access_token:${env.WECHAT_APPID}`);
    const tokenCalls = async () => (await sim("GET", "/received?path=/cgi-bin/stable_token")).body.requests.length;
    const logs: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logs.push(String(line)));
    const start = await tokenCalls();
    const [a, b] = await Promise.all([paidOrder(token, "ship-item"), paidOrder(token, "ship-item")]);
    await Promise.all([ship(a.outTradeNo, express()), ship(b.outTradeNo, express())]);
    expect(await tokenCalls()).toBe(start + 1);
    const cached = await env.NOTIFY_KV.get<{ token: string }>(`wx:stable_access_token:${env.WECHAT_APPID}`, "json");
    expect(cached?.token).toEqual(expect.any(String));

    await sim("POST", "/faults", { path: "/wxa/sec/order/upload_shipping_info", fault: "token_expired" });
    const c = await paidOrder(token, "ship-item");
    expect((await ship(c.outTradeNo, express())).status).toBe(201);
    const calls = (await sim("GET", "/received?path=/cgi-bin/stable_token")).body.requests.slice(start + 1);
    // 42001: the token is fetched again in normal mode, which already gives a new one (WeChat renews an
    // expired token), so no forced refresh (a daily quota) is spent.
    expect(calls.map((r: { raw: string }) => JSON.parse(r.raw).force_refresh ?? false)).toEqual([false]);
    const fresh = await env.NOTIFY_KV.get<{ token: string }>(`wx:stable_access_token:${env.WECHAT_APPID}`, "json");
    expect(fresh?.token).not.toBe(cached?.token);
    for (const t of [cached!.token, fresh!.token]) expect(logs.join("\n")).not.toContain(t);
  });
});

describe("virtual goods ship themselves when paid", () => {
  it("an all-virtual order gets its logistics_type 3 shipment in the payment's transaction, uploaded once by the consumer", async () => {
    const order = await paidOrder(token, "ship-ebook");
    const [shipment] = await shipmentsOf(order.outTradeNo);
    expect(shipment).toMatchObject({ logistics_type: "virtual", idempotency_key: "auto" });
    // The Queue consumer (driven here as the Queue would) uploads it; a second message does nothing.
    for (let i = 0; i < 2; i++) {
      const batch = createMessageBatch<string>("merchant-events", [{ id: `m-${i}`, timestamp: new Date(), attempts: 1, body: shipment!.id }]);
      await worker.queue(batch, env, createExecutionContext());
    }
    expect((await shipmentsOf(order.outTradeNo))).toEqual([expect.objectContaining({ status: "UPLOADED", attempts: 1 })]);
    expect(await uploadsFor(order.transactionId)).toHaveLength(1);
    expect((await sim("GET", `/shipping/${order.transactionId}`)).body.order.shipping.logistics_type).toBe(3);
  });

  it("a mixed order (one physical item) ships nothing by itself", async () => {
    const created = await api("POST", "/api/orders", { token, body: { items: [{ sku: "ship-ebook", quantity: 1 }, { sku: "ship-item", quantity: 1 }] } });
    const paid = await sim("POST", "/pay", { payment: created.body.payment, notify: "none" });
    expect(paid.status).toBe(200);
    await api("GET", `/api/orders/${created.body.order.outTradeNo}`, { token });
    expect(await shipmentsOf(created.body.order.outTradeNo)).toEqual([]);
  });
});

describe("GET /admin/shipping/status", () => {
  it("answers WeChat's view and /health shows it as information", async () => {
    await sim("POST", "/shipping/settings", { tradeManaged: true, confirmationCompleted: true });
    const reply = await admin("GET", "/shipping/status");
    expect(reply.body).toEqual({ tradeManaged: true, confirmationCompleted: true });
    const health = await api("GET", "/health");
    expect(health.body).toMatchObject({ ok: true, shipping: { tradeManaged: true, confirmationCompleted: true } });
  });
});

describe("message push", () => {
  const PUSH = "/wechat/miniprogram/push";
  const sha1 = async (text: string) =>
    [...new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

  const plainModeEnv = { ...env, WECHAT_PUSH_AES_KEY: "" };
  /** A push signed in plain mode (signature over Token, timestamp, nonce), posted with `vars`. */
  async function plainPush(body: string, vars: Env = env) {
    const [timestamp, nonce] = [String(Math.floor(Date.now() / 1000)), crypto.randomUUID().slice(0, 8)];
    const signature = await sha1([env.WECHAT_PUSH_TOKEN!, timestamp, nonce].sort().join(""));
    return app.request(`${ORIGIN}${PUSH}?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`, { method: "POST", body, headers: { "content-type": "application/json" } }, vars);
  }

  async function shippedOrder() {
    const order = await paidOrder(token, "ship-item");
    expect((await ship(order.outTradeNo, express())).status).toBe(201);
    return order;
  }

  it("GET: the URL check echoes echostr for the right signature, 401 otherwise", async () => {
    const [timestamp, nonce] = ["1764676800", "n0nce"];
    const signature = await sha1([env.WECHAT_PUSH_TOKEN!, timestamp, nonce].sort().join(""));
    const good = await app.request(`${ORIGIN}${PUSH}?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}&echostr=hello123`, {}, env);
    expect([good.status, await good.text()]).toEqual([200, "hello123"]);
    const bad = await app.request(`${ORIGIN}${PUSH}?signature=${"0".repeat(40)}&timestamp=${timestamp}&nonce=${nonce}&echostr=hello123`, {}, env);
    expect(bad.status).toBe(401);
    expect(await bad.text()).not.toContain("hello123");
  });

  it("the user confirms receipt (safe mode, JSON) → settledAt and order.settled, once; the replay changes nothing", async () => {
    const order = await shippedOrder();
    const confirmed = await sim("POST", "/shipping/confirm", { transactionId: order.transactionId, settle: true });
    expect(confirmed.status).toBe(200);
    const [delivery] = await deliverOwn(confirmed.body.deliveryIds);
    expect([delivery!.status, delivery!.reply, delivery!.acknowledged]).toEqual([200, "success", true]);
    const own = await api("GET", `/api/orders/${order.outTradeNo}`, { token });
    expect(own.body.order.settledAt).toEqual(expect.stringMatching(/Z$/));
    expect(await merchantTypes(order.outTradeNo)).toEqual(["order.paid", "shipment.uploaded", "order.settled"]);
    const before = await snapshot();
    const url = new URL((await sim("GET", `/deliveries?outTradeNo=${order.outTradeNo}&kind=push`)).body.deliveries[0].url);
    const replay = await postNotify(`${url.pathname}${url.search}`, delivery!.body);
    expect(replay.status).toBe(200);
    expect(await snapshot()).toEqual(before);
  });

  it("XML (safe mode) works too; the shipping-time push (no settlement_time) and the reminders settle nothing", async () => {
    await sim("POST", "/push", { format: "xml" });
    try {
      const order = await shippedOrder();
      const early = await sim("POST", "/shipping/notify-shipped", { transactionId: order.transactionId });
      expect((await deliverOwn(early.body.deliveryIds)).map((d) => [d.status, d.reply])).toEqual([[200, "success"]]);
      const remind = await sim("POST", "/shipping/remind", { event: "trade_manage_remind_shipping", transactionId: order.transactionId });
      expect((await deliverOwn(remind.body.deliveryIds)).map((d) => d.status)).toEqual([200]);
      expect((await api("GET", `/api/orders/${order.outTradeNo}`, { token })).body.order.settledAt).toBeNull();
      const recorded = await rows<{ event: string }>("SELECT event FROM push_messages WHERE transaction_id = ? ORDER BY received_at", order.transactionId);
      expect(recorded.map((r) => r.event)).toEqual(["trade_manage_order_settlement", "trade_manage_remind_shipping"]);
      const settled = await sim("POST", "/shipping/confirm", { transactionId: order.transactionId, settle: true });
      expect((await deliverOwn(settled.body.deliveryIds)).map((d) => d.status)).toEqual([200]);
      expect((await api("GET", `/api/orders/${order.outTradeNo}`, { token })).body.order.settledAt).not.toBeNull();
    } finally {
      await sim("POST", "/push", { aesKey: env.WECHAT_PUSH_AES_KEY, format: "json" });
    }
  });

  it("a bad signature → 401 and nothing recorded; an unknown event → success, ignored", async () => {
    const before = await snapshot();
    const pushes = await rows("SELECT COUNT(*) AS n FROM push_messages");
    const forged = await postNotify(`${PUSH}?signature=${"a".repeat(40)}&timestamp=1&nonce=2&encrypt_type=aes&msg_signature=${"b".repeat(40)}`, JSON.stringify({ ToUserName: "gh_x", Encrypt: "AAAA" }), { "content-type": "application/json" });
    expect(forged.status).toBe(401);
    const plainForged = await postNotify(`${PUSH}?signature=${"a".repeat(40)}&timestamp=1&nonce=2`, JSON.stringify({ Event: "trade_manage_order_settlement", settlement_time: 1 }), { "content-type": "application/json" });
    expect(plainForged.status).toBe(401);
    expect(await snapshot()).toEqual(before);
    expect(await rows("SELECT COUNT(*) AS n FROM push_messages")).toEqual(pushes);
    // Correctly signed in plain mode, but the account is in safe mode (an EncodingAESKey is set): a
    // plain push could only be a forgery made from a seen URL (its signature does not cover the body).
    const plain = await plainPush(JSON.stringify({ Event: "trade_manage_order_settlement", transaction_id: "4200000000000000000000000000", settlement_time: 1 }));
    expect(plain.status).toBe(401);
    expect(await rows("SELECT COUNT(*) AS n FROM push_messages")).toEqual(pushes);
    const unknown = await plainPush(JSON.stringify({ MsgType: "event", Event: "user_enter_tempsession" }), plainModeEnv);
    expect([unknown.status, await unknown.text()]).toEqual([200, "success"]);
    expect(await rows("SELECT COUNT(*) AS n FROM push_messages")).toEqual(pushes);
  });

  it("plain mode (no EncodingAESKey configured): a settlement push signed over Token, timestamp, nonce settles the order", async () => {
    const order = await shippedOrder();
    const body = JSON.stringify({
      ToUserName: "gh_test", FromUserName: "o-wechat", CreateTime: 1764676800, MsgType: "event", Event: "trade_manage_order_settlement",
      transaction_id: order.transactionId, settlement_time: 1764676800,
    });
    const reply = await plainPush(body, plainModeEnv);
    expect([reply.status, await reply.text()]).toEqual([200, "success"]);
    expect((await api("GET", `/api/orders/${order.outTradeNo}`, { token })).body.order.settledAt).toBe("2025-12-02T12:00:00.000Z");
    expect((await plainPush(body, plainModeEnv)).status).toBe(200); // a replay: recorded once, nothing more
    expect(await merchantTypes(order.outTradeNo)).toEqual(["order.paid", "shipment.uploaded", "order.settled"]);
  });
});


