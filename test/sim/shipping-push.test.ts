// The user confirming receipt, settlement, the shipping-time push and the reminders: message pushes
// in JSON / XML, plain / safe mode, read by an independent receiver (test/sim/shipping-peer.ts), their
// ack rule and retries, HTTP delivery, the push configuration, and faults on the shipping paths.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { PUSH_RETRY_SCHEDULE_SECONDS } from "../../sim/notifier.ts";
import { drainOutbox } from "../../sim/outbox.ts";
import { simOptionsFromEnv } from "../../sim/server.ts";
import { APPID, MCH } from "./peer.ts";
import { PUSH_AES_KEY, PUSH_TOKEN, accessToken, control, getOrder, makeSim, paidOrder, readPush, take, upload, uploadBody, wx } from "./shipping-peer.ts";

/** A paid and shipped order in a simulator configured for pushes. */
async function shipped(sim: ReturnType<typeof makeSim>, outTradeNo: string) {
  const o = await paidOrder(sim, outTradeNo, { notifyUrl: "https://shop.test/wechat/pay/notify" });
  expect((await upload(sim, uploadBody(o))).errcode).toBe(0);
  return o;
}

describe("POST /__sim/shipping/confirm", () => {
  it("confirms and settles: order_state 4 and a signed JSON push with settlement_time to notify_url's origin", async () => {
    const sim = makeSim({ pushToken: PUSH_TOKEN });
    const o = await shipped(sim, "C1");
    const r = await control(sim, "/__sim/shipping/confirm", { transactionId: o.transactionId });
    expect(r).toMatchObject({ status: 200, body: { transactionId: o.transactionId, outTradeNo: "C1", orderState: 4 } });
    expect(r.body.deliveryIds).toHaveLength(1);
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(4);
    const [d] = await take(sim);
    expect(d).toMatchObject({ id: r.body.deliveryIds[0], kind: "push", event: "trade_manage_order_settlement", contentType: "application/json" });
    const { url, message, query } = readPush(d!);
    expect(url.origin + url.pathname).toBe("https://shop.test/wechat/miniprogram/push");
    expect(Object.keys(query).sort()).toEqual(["nonce", "signature", "timestamp"]);
    expect(message).toEqual({
      ToUserName: expect.stringMatching(/^gh_[0-9a-f]{12}$/), FromUserName: expect.stringMatching(/^o[\w-]{27}$/), CreateTime: Number(query.timestamp), MsgType: "event",
      Event: "trade_manage_order_settlement", transaction_id: o.transactionId, merchant_id: MCH, merchant_trade_no: "C1", pay_time: expect.any(Number),
      shipped_time: expect.any(Number), confirm_receive_method: 2, confirm_receive_time: expect.any(Number), settlement_time: expect.any(Number),
    });
    expect(message.settlement_time).toBeGreaterThanOrEqual(message.shipped_time);
    expect(message.estimated_settlement_time).toBeUndefined();
  });

  it("settle: false stops at order_state 3 without a push; /__sim/shipping/settle finishes it (auto method)", async () => {
    const sim = makeSim({ pushToken: PUSH_TOKEN });
    const o = await shipped(sim, "C2");
    const r = await control(sim, "/__sim/shipping/confirm", { transactionId: o.transactionId, settle: false, method: "auto" });
    expect(r.body).toMatchObject({ orderState: 3, deliveryIds: [] });
    expect(await take(sim)).toEqual([]);
    const s = await control(sim, "/__sim/shipping/settle", { outTradeNo: "C2" });
    expect(s.body.orderState).toBe(4);
    const [d] = await take(sim);
    expect(readPush(d!).message.confirm_receive_method).toBe(1);
  });

  it("refuses with 4xx and changes nothing: not shipped, already confirmed, unknown, no push Token, bad fields", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "C3");
    const confirm = (b: Record<string, unknown>) => control(sim, "/__sim/shipping/confirm", b);
    expect(await confirm({ transactionId: o.transactionId })).toMatchObject({ status: 409, body: { code: "NOT_SHIPPED" } });
    expect(await confirm({ transactionId: "4200000000000000000000000009" })).toMatchObject({ status: 404, body: { code: "UNKNOWN_TRANSACTION" } });
    expect(await confirm({})).toMatchObject({ status: 400, body: { code: "BAD_REQUEST" } });
    expect((await upload(sim, uploadBody(o))).errcode).toBe(0);
    expect(await confirm({ transactionId: o.transactionId, method: "phone" })).toMatchObject({ status: 400 });
    expect(await confirm({ transactionId: o.transactionId, settle: "yes" })).toMatchObject({ status: 400 });
    expect(await confirm({ transactionId: o.transactionId })).toMatchObject({ status: 409, body: { code: "PUSH_NOT_CONFIGURED" } });
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(2); // the refusal changed nothing
    expect((await confirm({ transactionId: o.transactionId, notify: "none" })).body).toMatchObject({ orderState: 4, deliveryIds: [] });
    expect(await confirm({ transactionId: o.transactionId })).toMatchObject({ status: 409, body: { code: "ALREADY_SETTLED" } });
    expect(await control(sim, "/__sim/shipping/settle", { transactionId: o.transactionId })).toMatchObject({ status: 409, body: { code: "ALREADY_SETTLED" } });
  });
});

describe("the shipping-time push and the reminders", () => {
  it("notify-shipped: estimated_settlement_time, no settlement fields (not a settlement)", async () => {
    const sim = makeSim({ pushToken: PUSH_TOKEN });
    const o = await shipped(sim, "N1");
    expect((await control(sim, "/__sim/shipping/notify-shipped", { transactionId: o.transactionId, estimatedSettlementTime: 1_900_000_000 })).body.orderState).toBe(2);
    const { message } = readPush((await take(sim))[0]!);
    expect(message).toMatchObject({ Event: "trade_manage_order_settlement", transaction_id: o.transactionId, merchant_trade_no: "N1", estimated_settlement_time: 1_900_000_000 });
    for (const k of ["settlement_time", "confirm_receive_time", "confirm_receive_method"]) expect(message[k]).toBeUndefined();
    await control(sim, "/__sim/shipping/notify-shipped", { transactionId: o.transactionId });
    const second = readPush((await take(sim))[0]!).message;
    expect(second.estimated_settlement_time - second.shipped_time).toBe(10 * 86400);
    const unshipped = await paidOrder(sim, "N2");
    expect(await control(sim, "/__sim/shipping/notify-shipped", { transactionId: unshipped.transactionId })).toMatchObject({ status: 409, body: { code: "NOT_SHIPPED" } });
    expect(await control(sim, "/__sim/shipping/notify-shipped", { transactionId: o.transactionId, estimatedSettlementTime: "soon" })).toMatchObject({ status: 400 });
  });

  it("autoPushOnShipping sends it when an upload completes shipping, not for a partial split", async () => {
    const sim = makeSim({ pushToken: PUSH_TOKEN, autoPushOnShipping: true });
    const o = await paidOrder(sim, "N3");
    await upload(sim, uploadBody(o, { delivery_mode: 2, is_all_delivered: false }));
    expect(await take(sim)).toEqual([]);
    await upload(sim, uploadBody(o, { delivery_mode: 2, is_all_delivered: true }));
    const pushes = await take(sim);
    expect(pushes.map((d) => d.event)).toEqual(["trade_manage_order_settlement"]);
    expect(readPush(pushes[0]!).message.estimated_settlement_time).toBeTypeOf("number");
  });

  it("remind: access_api (msg only) and shipping (the order), in XML; bad events refused", async () => {
    const sim = makeSim({ pushToken: PUSH_TOKEN, pushFormat: "xml", pushUrl: "https://merchant.test/wx/push?from=wechat" });
    const o = await paidOrder(sim, "R1");
    expect((await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api", msg: "请接入" })).body.deliveryIds).toHaveLength(1);
    expect((await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_shipping", transactionId: o.transactionId })).status).toBe(200);
    const [access, ship] = await take(sim);
    expect(access!.contentType).toBe("text/xml");
    const a = readPush(access!);
    expect(a.url.origin + a.url.pathname + "?from=" + a.query.from).toBe("https://merchant.test/wx/push?from=wechat");
    expect(a.plaintext).toMatch(/^<xml><ToUserName><!\[CDATA\[gh_[0-9a-f]{12}\]\]><\/ToUserName>.*<CreateTime>\d{10}<\/CreateTime><MsgType><!\[CDATA\[event\]\]><\/MsgType>/);
    expect(a.message).toMatchObject({ Event: "trade_manage_remind_access_api", msg: "请接入" });
    const s = readPush(ship!);
    expect(s.plaintext).toMatch(/<pay_time>\d{10}<\/pay_time>/);
    expect(s.message).toMatchObject({ Event: "trade_manage_remind_shipping", transaction_id: o.transactionId, merchant_id: MCH, merchant_trade_no: "R1", msg: expect.any(String) });
    expect(await control(sim, "/__sim/shipping/remind", { event: "trade_manage_order_settlement" })).toMatchObject({ status: 400 });
    expect(await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_shipping" })).toMatchObject({ status: 400 });
  });
});

describe("safe mode, the push configuration and delivery", () => {
  it("safe mode (JSON and XML): Encrypt + msg_signature + openid, decrypted with the EncodingAESKey, appid checked", async () => {
    for (const format of ["json", "xml"] as const) {
      const sim = makeSim({ pushToken: PUSH_TOKEN, pushAesKey: PUSH_AES_KEY, pushFormat: format });
      const o = await shipped(sim, "E1");
      await control(sim, "/__sim/shipping/confirm", { transactionId: o.transactionId });
      const [d] = await take(sim);
      if (format === "xml") expect(d!.body).toMatch(/^<xml><ToUserName><!\[CDATA\[gh_[0-9a-f]{12}\]\]><\/ToUserName><Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt><\/xml>$/);
      const { query, message } = readPush(d!, { aesKey: PUSH_AES_KEY });
      expect(Object.keys(query)).toEqual(["signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature"]);
      expect(query.openid).toBe(message.FromUserName);
      expect(message).toMatchObject({ Event: "trade_manage_order_settlement", transaction_id: o.transactionId });
      expect(String(message.settlement_time)).toMatch(/^\d{10}$/); // a number in JSON, plain text in XML
      expect(d!.body).not.toContain(o.transactionId);
    }
  });

  it("POST /__sim/push switches the configuration (never echoing secrets); reset restores the options", async () => {
    const sim = makeSim({ pushToken: PUSH_TOKEN, originalId: "gh_0123456789ab" });
    expect((await control(sim, "/__sim/push")).body).toMatchObject({ url: null, format: "json", mode: "plain", tokenSet: true, originalId: "gh_0123456789ab" });
    const set = await control(sim, "/__sim/push", { url: "http://127.0.0.1:9/p", token: "Other9", aesKey: PUSH_AES_KEY, format: "xml" });
    expect(set.body).toMatchObject({ url: "http://127.0.0.1:9/p", format: "xml", mode: "safe", tokenSet: true });
    expect(JSON.stringify(set.body)).not.toContain(PUSH_AES_KEY);
    expect(JSON.stringify(set.body)).not.toContain("Other9");
    await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api" });
    const [d] = await take(sim);
    expect(readPush(d!, { token: "Other9", aesKey: PUSH_AES_KEY }).message.ToUserName).toBe("gh_0123456789ab");
    for (const bad of [{ url: "ftp://x" }, { token: "no spaces" }, { token: "ab" }, { aesKey: "short" }, { format: "yaml" }]) {
      expect((await control(sim, "/__sim/push", bad)).status, JSON.stringify(bad)).toBe(400);
    }
    expect((await control(sim, "/__sim/push")).body.mode).toBe("safe"); // refusals changed nothing
    expect((await control(sim, "/__sim/push", { token: null })).body.tokenSet).toBe(false);
    expect(await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api" })).toMatchObject({ status: 409, body: { code: "PUSH_NOT_CONFIGURED" } });
    await control(sim, "/__sim/reset", {});
    expect((await control(sim, "/__sim/push")).body).toMatchObject({ url: null, format: "json", mode: "plain", tokenSet: true });
    expect(await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api" })).toMatchObject({ status: 409, body: { code: "NO_PUSH_URL" } });
    expect(() => makeSim({ pushAesKey: "too-short" })).toThrow(/43/);
  });

  it("ack: HTTP 200 with an empty body or 'success'; anything else is retried right away, 3 sends in all", async () => {
    expect(PUSH_RETRY_SCHEDULE_SECONDS).toEqual([0, 0]);
    const sim = makeSim({ pushToken: PUSH_TOKEN, pushUrl: "https://shop.test/push" });
    const send = async () => (await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api" })).body.deliveryIds[0];
    const replies = [{ status: 200, body: "" }, { status: 200, body: "success" }, { status: 200, body: " success\n" }];
    for (const reply of replies) {
      const id = await send();
      await take(sim);
      expect((await control(sim, `/__sim/deliveries/${id}/result`, reply)).body).toEqual({ acknowledged: true, nextAttemptAt: null });
    }
    const id = await send();
    const bodies: string[] = [];
    for (const reply of [{ status: 200, body: "<xml><return_code>SUCCESS</return_code></xml>" }, { status: 500, body: "" }, { error: "timeout" }]) {
      const [d] = await take(sim);
      bodies.push(d!.body);
      expect((await control(sim, `/__sim/deliveries/${id}/result`, reply)).body.acknowledged).toBe(false);
    }
    expect(new Set(bodies).size).toBe(1); // every retry carries the same body
    expect(await take(sim)).toEqual([]);
    const listed = (await control(sim, "/__sim/deliveries?kind=push")).body.deliveries.find((d: { id: string }) => d.id === id);
    expect(listed).toMatchObject({ status: "gave_up", event: "trade_manage_remind_access_api", contentType: "application/json" });
    expect(listed.attempts).toHaveLength(3);
  });

  it("drainOutbox delivers with the push's Content-Type; notify duplicate / none", async () => {
    const sim = makeSim({ pushToken: PUSH_TOKEN, pushUrl: "https://shop.test/push" });
    await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api", notify: "duplicate" });
    expect((await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api", notify: "none" })).body.deliveryIds).toEqual([]);
    const seen: string[] = [];
    const results = await drainOutbox((r) => sim.fetch(r), async (r) => {
      seen.push(`${r.headers.get("content-type")} ${new URL(r.url).pathname}`);
      return new Response("success");
    });
    expect(results.map((r) => [r.delivery.kind, r.acknowledged])).toEqual([["push", true], ["push", true]]);
    expect(seen).toEqual(["application/json /push", "application/json /push"]);
  });

  it("http delivery (npm start): POSTs the push itself with its Content-Type", async () => {
    const received: { type: string | undefined; body: string; url: string }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ type: req.headers["content-type"], body, url: req.url ?? "" });
        res.end("success");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      const sim = makeSim({ delivery: "http", pushToken: PUSH_TOKEN, pushFormat: "xml", pushUrl: `http://127.0.0.1:${port}/wechat/miniprogram/push` });
      await control(sim, "/__sim/shipping/remind", { event: "trade_manage_remind_access_api" });
      await sim.idle();
      expect(received).toHaveLength(1);
      expect(received[0]!.type).toBe("text/xml");
      const { message } = readPush({ url: `http://127.0.0.1:${port}${received[0]!.url}`, body: received[0]!.body, contentType: "text/xml" });
      expect(message.Event).toBe("trade_manage_remind_access_api");
      expect((await control(sim, "/__sim/deliveries")).body.deliveries[0].status).toBe("acknowledged");
    } finally {
      server.close();
    }
  });
});

describe("npm run sim", () => {
  it("reads the push configuration from the environment only when set", () => {
    const env = { WECHAT_PUSH_TOKEN: PUSH_TOKEN, WECHAT_PUSH_AES_KEY: PUSH_AES_KEY, SIM_PUSH_URL: "http://127.0.0.1:8787/wechat/miniprogram/push", SIM_PUSH_FORMAT: "xml", SIM_AUTO_PUSH_ON_SHIPPING: "1" };
    expect(simOptionsFromEnv(env)).toMatchObject({ pushToken: PUSH_TOKEN, pushAesKey: PUSH_AES_KEY, pushUrl: env.SIM_PUSH_URL, pushFormat: "xml", autoPushOnShipping: true });
    expect(simOptionsFromEnv({})).not.toHaveProperty("pushToken");
    expect(() => simOptionsFromEnv({ SIM_PUSH_FORMAT: "yaml" })).toThrow(/SIM_PUSH_FORMAT/);
  });
});

describe("faults on the shipping paths", () => {
  it("systemerror → -1 busy (not processed); systemerror_after → -1 but shipped; business errcode of choice", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "F1");
    const path = "/wxa/sec/order/upload_shipping_info";
    await control(sim, "/__sim/faults", { path, fault: "systemerror" });
    expect((await upload(sim, uploadBody(o))).errcode).toBe(-1);
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(1);
    await control(sim, "/__sim/faults", { path, fault: "systemerror_after" });
    expect((await upload(sim, uploadBody(o))).errcode).toBe(-1);
    expect((await getOrder(sim, o.transactionId)).order_state).toBe(2);
    await control(sim, "/__sim/faults", { path: "/wxa/sec/order/get_order", fault: "business", errCode: "10060012", errCodeDes: "系统错误" });
    const r = await wx(sim, "/wxa/sec/order/get_order", { transaction_id: o.transactionId }, await accessToken(sim));
    expect([r.errcode, r.errmsg]).toEqual([10060012, expect.stringMatching(/^系统错误 rid: /)]);
    expect((await control(sim, "/__sim/faults", { path, fault: "bad_sign" })).status).toBe(400);
  });

  it("timeout (not processed) and timeout_after (processed, reply lost) end when the caller aborts", async () => {
    const sim = makeSim();
    const o = await paidOrder(sim, "F2");
    const path = "/wxa/sec/order/upload_shipping_info";
    const token = await accessToken(sim);
    for (const fault of ["timeout", "timeout_after"]) {
      await control(sim, "/__sim/faults", { path, fault });
      const ac = new AbortController();
      const pending = sim.fetch(new Request(`https://api.weixin.qq.com${path}?access_token=${token}`, { method: "POST", body: JSON.stringify(uploadBody(o, { shipping_list: [{ tracking_no: fault, express_company: "YTO", item_desc: "茶" }] })), signal: ac.signal }));
      setTimeout(() => ac.abort(), 20);
      expect((await pending).status).toBe(504);
    }
    const g = await getOrder(sim, o.transactionId);
    expect(g.shipping.shipping_list.map((p: { tracking_no: string }) => p.tracking_no)).toEqual(["timeout_after"]);
  });

  it("http500, html, empty and truncated replies", async () => {
    const sim = makeSim();
    const token = await accessToken(sim);
    const path = "/wxa/sec/order/is_trade_managed";
    for (const fault of ["http500", "html", "empty", "truncated"]) await control(sim, "/__sim/faults", { path, fault });
    const call = () => sim.fetch(new Request(`https://api.weixin.qq.com${path}?access_token=${token}`, { method: "POST", body: JSON.stringify({ appid: APPID }) }));
    expect((await call()).status).toBe(500);
    expect(await (await call()).text()).toMatch(/^<!DOCTYPE html>/);
    expect(await (await call()).text()).toBe("");
    const cut = await (await call()).text();
    expect(() => JSON.parse(cut)).toThrow();
    expect(JSON.parse(await (await call()).text())).toEqual({ errcode: 0, errmsg: "ok", is_trade_managed: true });
  });
});
