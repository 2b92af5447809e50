// The mini-program payment flow end to end inside workerd: login → priced order → unifiedorder at the
// simulator → wx.requestPayment parameters → the user pays → notify → PAID; and the rules around it
// (prices from D1, ownership, idempotency, re-entry, cancel). Real D1/KV, real XML to the simulator.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, createOrder, deliverNotifications, login, payInWechat, payNotifyFields, postNotify, putProduct, rows, signWechat, signedNotifyXml, sim } from "./harness";

beforeAll(async () => {
  await putProduct("tea", "Oolong tea 250g", 1990);
  await putProduct("mint", "Mint candy", 7); // the ¥0.07 product floats get wrong
  await putProduct("retired", "Retired", 100, false);
});

describe("products", () => {
  it("lists active products with integer fen prices", async () => {
    const { status, body } = await api("GET", "/api/products");
    expect(status).toBe(200);
    const skus = body.products.map((p: any) => p.sku);
    expect(skus).toContain("tea");
    expect(skus).not.toContain("retired");
    expect(body.products.find((p: any) => p.sku === "mint")).toEqual({ sku: "mint", name: "Mint candy", priceFen: 7 });
  });
});

describe("checkout", () => {
  it("creates a NOTPAY order priced from D1 and returns wx.requestPayment parameters", async () => {
    const token = await login("alice");
    const reply = await createOrder(token, [{ sku: "tea", quantity: 2 }, { sku: "mint", quantity: 1 }], { attach: "table 7" });
    expect(reply.status).toBe(201);
    const { order, payment } = reply.body;
    expect(order).toMatchObject({ status: "NOTPAY", totalFee: 2 * 1990 + 7, attach: "table 7", paidAt: null, transactionId: null, refundedFee: 0 });
    expect(order.items).toEqual([
      { sku: "tea", name: "Oolong tea 250g", quantity: 2, priceFen: 1990 },
      { sku: "mint", name: "Mint candy", quantity: 1, priceFen: 7 },
    ]);
    expect(order.outTradeNo).toMatch(/^[0-9A-Za-z_-]{1,32}$/);
    expect(Object.keys(payment).sort()).toEqual(["nonceStr", "package", "paySign", "signType", "timeStamp"]);
    expect(payment.timeStamp).toMatch(/^\d{10}$/);
    expect(payment.signType).toBe("MD5");
    expect(payment.package).toMatch(/^prepay_id=\S+$/);
    // The paySign verifies with the official algorithm over the five signed fields (appId signed, not returned).
    const signed = { appId: env.WECHAT_APPID, timeStamp: payment.timeStamp, nonceStr: payment.nonceStr, package: payment.package, signType: "MD5" };
    expect(payment.paySign).toBe(signWechat(signed, env.WECHAT_PAY_KEY));
  });

  it("sends unifiedorder with a valid signature, the session's openid, the D1 amount, notify_url and Beijing-time expiry", async () => {
    const token = await login("bob");
    const before = Date.now();
    const { body } = await createOrder(token, [{ sku: "mint", quantity: 1 }], { totalFee: 1, amount: 1, openid: "attacker", out_trade_no: "forged" });
    const received = await sim("GET", `/received?path=/pay/unifiedorder`);
    const request = received.body.requests.filter((r: any) => r.fields.out_trade_no === body.order.outTradeNo).at(-1);
    expect(request).toBeDefined();
    const f = request.fields;
    expect(f.sign).toBe(signWechat(f, env.WECHAT_PAY_KEY, "MD5"));
    expect(f.total_fee).toBe("7"); // ¥0.07 is 7 fen, not 8
    expect(f.openid).not.toBe("attacker");
    const users = await rows<{ openid: string }>("SELECT u.openid FROM users u JOIN orders o ON o.user_id = u.id WHERE o.out_trade_no = ?", body.order.outTradeNo);
    expect(f.openid).toBe(users[0]!.openid);
    expect(f.notify_url).toBe("https://shop.example/wechat/pay/notify");
    expect(f.trade_type).toBe("JSAPI");
    expect(f.appid).toBe(env.WECHAT_APPID);
    expect(f.mch_id).toBe(env.WECHAT_MCH_ID);
    // time_expire is Beijing time (UTC+8), ORDER_TTL_MINUTES after time_start.
    const beijing = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().replace(/\D/g, "").slice(0, 14);
    expect(f.time_start >= beijing(before - 1000)).toBe(true);
    const expectedExpire = beijing(new Date(body.order.expiresAt).getTime());
    expect(f.time_expire).toBe(expectedExpire);
    expect(new Date(body.order.expiresAt).getTime() - new Date(body.order.createdAt).getTime()).toBe(30 * 60_000);
    expect(f.body).toBe("Mint candy");
    expect(body.order.outTradeNo).not.toBe("forged");
    expect(JSON.stringify(body)).not.toContain("session_key");
    expect(JSON.stringify(body)).not.toContain(users[0]!.openid);
  });

  it("walks the whole happy path: pay in WeChat → notify → PAID exactly once", async () => {
    const token = await login("carol");
    const { body } = await createOrder(token, [{ sku: "tea", quantity: 1 }]);
    const paid = await payInWechat(body.payment);
    expect(paid.outTradeNo).toBe(body.order.outTradeNo);
    const deliveries = await deliverNotifications();
    expect(deliveries.length).toBeGreaterThanOrEqual(1);
    expect(deliveries.every((d) => d.status === 200 && d.acknowledged)).toBe(true);
    const { body: read } = await api("GET", `/api/orders/${body.order.outTradeNo}`, { token });
    expect(read.order).toMatchObject({ status: "PAID", transactionId: paid.transactionId, totalFee: 1990 });
    expect(read.order.paidAt).toMatch(/Z$/);
    const events = await rows("SELECT kind, verdict FROM events WHERE out_trade_no = ?", body.order.outTradeNo);
    expect(events).toEqual([{ kind: "pay_notify", verdict: "applied" }]);
  });

  it("B39 rejects bad carts with 400 and creates nothing (no order row, no unifiedorder)", async () => {
    const token = await login("dave");
    const before = await rows("SELECT COUNT(*) AS n FROM orders");
    const unifiedBefore = (await sim("GET", "/received?path=/pay/unifiedorder")).body.requests.length;
    const bad = [
      [{ sku: "tea", quantity: 0 }],
      [{ sku: "tea", quantity: -1 }],
      [{ sku: "tea", quantity: 1.5 }],
      [{ sku: "tea", quantity: "2" }],
      [{ sku: "tea", quantity: 1e3 }],
      [{ sku: "tea", quantity: 9007199254740993 }],
      [{ sku: "nope", quantity: 1 }],
      [{ sku: "retired", quantity: 1 }],
      [],
      Array.from({ length: 51 }, (_, i) => ({ sku: `s${i}`, quantity: 1 })),
    ];
    for (const items of bad) {
      const reply = await createOrder(token, items as any);
      expect(reply.status, JSON.stringify(items).slice(0, 60)).toBe(400);
      expect(reply.body.error.code).toMatch(/^[A-Z_]+$/);
      expect(reply.body.error.message).toMatch(/items|sku|quantity/);
    }
    expect(await rows("SELECT COUNT(*) AS n FROM orders")).toEqual(before);
    expect((await sim("GET", "/received?path=/pay/unifiedorder")).body.requests.length).toBe(unifiedBefore);
  });

  it("keeps users apart: another user's order is a 404 for reading, paying and cancelling", async () => {
    const owner = await login("erin");
    const other = await login("frank");
    const { body } = await createOrder(owner, [{ sku: "mint", quantity: 3 }]);
    const id = body.order.outTradeNo;
    expect((await api("GET", `/api/orders/${id}`, { token: other })).status).toBe(404);
    expect((await api("POST", `/api/orders/${id}/payment`, { token: other })).status).toBe(404);
    expect((await api("POST", `/api/orders/${id}/cancel`, { token: other })).status).toBe(404);
    const list = await api("GET", "/api/orders", { token: other });
    expect(list.body.orders.map((o: any) => o.outTradeNo)).not.toContain(id);
    const mine = await api("GET", "/api/orders", { token: owner });
    expect(mine.body.orders.map((o: any) => o.outTradeNo)).toContain(id);
  });

  it("honours Idempotency-Key: the same key and cart give the same order, a different cart is refused", async () => {
    const token = await login("gina");
    const key = crypto.randomUUID();
    const first = await createOrder(token, [{ sku: "tea", quantity: 1 }], {}, { "Idempotency-Key": key });
    const second = await createOrder(token, [{ sku: "tea", quantity: 1 }], {}, { "Idempotency-Key": key });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.order.outTradeNo).toBe(first.body.order.outTradeNo);
    expect(second.body.payment.package).toBe(first.body.payment.package);
    const changed = await createOrder(token, [{ sku: "tea", quantity: 2 }], {}, { "Idempotency-Key": key });
    expect(changed.status).toBe(422);
    const count = await rows("SELECT COUNT(*) AS n FROM orders o JOIN idempotency_keys k ON k.out_trade_no = o.out_trade_no WHERE k.key = ?", key);
    expect(count).toEqual([{ n: 1 }]);
  });

  it("re-issues payment parameters for a NOTPAY order with the same prepay_id, and refuses paid orders", async () => {
    const token = await login("hank");
    const { body } = await createOrder(token, [{ sku: "mint", quantity: 1 }]);
    const again = await api("POST", `/api/orders/${body.order.outTradeNo}/payment`, { token });
    expect(again.status).toBe(200);
    expect(again.body.payment.package).toBe(body.payment.package);
    await payInWechat(again.body.payment);
    await deliverNotifications();
    const paid = await api("POST", `/api/orders/${body.order.outTradeNo}/payment`, { token });
    expect(paid.status).toBe(409);
    expect(paid.body.error.code).toBe("ORDER_NOT_PAYABLE");
  });

  it("cancels an unpaid order through closeorder, and a paid one answers ORDER_PAID", async () => {
    const token = await login("ivan");
    const { body } = await createOrder(token, [{ sku: "mint", quantity: 1 }]);
    const closed = await api("POST", `/api/orders/${body.order.outTradeNo}/cancel`, { token });
    expect(closed.status).toBe(200);
    expect(closed.body.order.status).toBe("CLOSED");
    expect((await sim("GET", `/orders/${body.order.outTradeNo}`)).body.state).toBe("CLOSED");
    expect((await api("POST", `/api/orders/${body.order.outTradeNo}/payment`, { token })).status).toBe(409);

    const second = await createOrder(token, [{ sku: "mint", quantity: 2 }]);
    await payInWechat(second.body.payment, { notify: "none" }); // paid, notification lost
    const cancel = await api("POST", `/api/orders/${second.body.order.outTradeNo}/cancel`, { token });
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe("ORDER_PAID");
    // The cancel itself recorded the payment (closeorder ORDERPAID → orderquery), before any read.
    expect(await rows("SELECT status FROM orders WHERE out_trade_no = ?", second.body.order.outTradeNo)).toEqual([{ status: "PAID" }]);
    expect(await rows("SELECT kind FROM events WHERE out_trade_no = ? AND verdict = 'applied'", second.body.order.outTradeNo)).toEqual([{ kind: "order_query" }]);
    const read = await api("GET", `/api/orders/${second.body.order.outTradeNo}`, { token });
    expect(read.body.order.status).toBe("PAID");
  });

  it("learns about a payment whose notification never comes when the order is read", async () => {
    const token = await login("judy");
    const { body } = await createOrder(token, [{ sku: "tea", quantity: 1 }]);
    const paid = await payInWechat(body.payment, { notify: "none" });
    const read = await api("GET", `/api/orders/${body.order.outTradeNo}`, { token });
    expect(read.body.order).toMatchObject({ status: "PAID", transactionId: paid.transactionId });
    const events = await rows("SELECT kind, verdict FROM events WHERE out_trade_no = ?", body.order.outTradeNo);
    expect(events).toEqual([{ kind: "order_query", verdict: "applied" }]);
  });

  it("cancels locally when WeChat never heard of the order (closeorder ORDERNOTEXIST)", async () => {
    const token = await login("ivy");
    const { body } = await createOrder(token, [{ sku: "mint", quantity: 1 }]);
    await sim("POST", "/faults", { path: "/pay/closeorder", fault: "business", errCode: "ORDERNOTEXIST", errCodeDes: "订单不存在" });
    const closed = await api("POST", `/api/orders/${body.order.outTradeNo}/cancel`, { token });
    expect(closed.status).toBe(200);
    expect(closed.body.order.status).toBe("CLOSED");
  });

  it("explains WeChat's 5-minute closeorder minimum (SYSTEMERROR on a fresh order): 502 with Retry-After, order still NOTPAY", async () => {
    const token = await login("iris");
    const { body } = await createOrder(token, [{ sku: "mint", quantity: 1 }]);
    await sim("POST", "/faults", { path: "/pay/closeorder", fault: "systemerror" });
    const reply = await api("POST", `/api/orders/${body.order.outTradeNo}/cancel`, { token });
    expect(reply.status).toBe(502);
    expect(reply.body.error.code).toBe("UPSTREAM_ERROR");
    expect(reply.body.error.message).toContain("5 minutes");
    const retryAfter = Number(reply.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(280);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(await rows("SELECT status FROM orders WHERE out_trade_no = ?", body.order.outTradeNo)).toEqual([{ status: "NOTPAY" }]);
  });

  it("finds a payment made after a failed attempt (PAYERROR) when the order is read", async () => {
    const token = await login("lena");
    const { body } = await createOrder(token, [{ sku: "mint", quantity: 1 }]);
    const failXml = signedNotifyXml(payNotifyFields({ outTradeNo: body.order.outTradeNo, totalFee: 7 }, { result_code: "FAIL", err_code: "NOTENOUGH" }));
    expect((await postNotify("/wechat/pay/notify", failXml)).status).toBe(200);
    expect(await rows("SELECT status FROM orders WHERE out_trade_no = ?", body.order.outTradeNo)).toEqual([{ status: "PAYERROR" }]);
    // The user then pays successfully, and that notification is lost.
    const paid = await payInWechat(body.payment, { notify: "none" });
    const read = await api("GET", `/api/orders/${body.order.outTradeNo}`, { token });
    expect(read.body.order).toMatchObject({ status: "PAID", transactionId: paid.transactionId });
  });

  it("refuses control characters in attach (WeChat's XML cannot carry them) with a 400, creating nothing", async () => {
    const token = await login("otto");
    const before = await rows("SELECT COUNT(*) AS n FROM orders");
    const reply = await createOrder(token, [{ sku: "mint", quantity: 1 }], { attach: "x\u0001y" });
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toContain("attach");
    expect(await rows("SELECT COUNT(*) AS n FROM orders")).toEqual(before);
  });

  it("confirms a NOTPAY order with orderquery at most once per 5 s", async () => {
    const token = await login("kate");
    const { body } = await createOrder(token, [{ sku: "mint", quantity: 1 }]);
    const count = async () => (await sim("GET", "/received?path=/pay/orderquery")).body.requests.filter((r: any) => r.fields.out_trade_no === body.order.outTradeNo).length;
    await api("GET", `/api/orders/${body.order.outTradeNo}`, { token });
    await api("GET", `/api/orders/${body.order.outTradeNo}`, { token });
    await api("GET", `/api/orders/${body.order.outTradeNo}`, { token });
    expect(await count()).toBe(1);
  });
});

describe("order list", () => {
  it("pages newest first with an opaque cursor and refuses a forged one", async () => {
    const token = await login("paula");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createOrder(token, [{ sku: "mint", quantity: i + 1 }])).body.order.outTradeNo);
    const first = await api("GET", "/api/orders?limit=2", { token });
    expect(first.body.orders).toHaveLength(2);
    const second = await api("GET", `/api/orders?limit=2&cursor=${first.body.nextCursor}`, { token });
    const third = await api("GET", `/api/orders?limit=2&cursor=${second.body.nextCursor}`, { token });
    const pages = [...first.body.orders, ...second.body.orders, ...third.body.orders];
    expect(pages.map((o: any) => o.outTradeNo).sort()).toEqual([...ids].sort()); // each order exactly once
    const times = pages.map((o: any) => Date.parse(o.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a)); // newest first
    expect(third.body.nextCursor).toBeNull();
    for (const cursor of ["not-base64!", btoa(JSON.stringify(["x", 1])), btoa("{}")]) {
      expect((await api("GET", `/api/orders?cursor=${encodeURIComponent(cursor)}`, { token })).status).toBe(400);
    }
    expect((await api("GET", "/api/orders?limit=0", { token })).status).toBe(400);
    expect((await api("GET", "/api/orders?limit=101", { token })).status).toBe(400);
  });
});
