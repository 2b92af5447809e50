// Playing the user: /__sim/pay (paySign check) and the payment notification, in outbox and http modes.
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import type { Simulator, SimulatorOptions } from "../../sim/core.ts";
import { RETRY_SCHEDULE_SECONDS } from "../../sim/notifier.ts";
import { drainOutbox } from "../../sim/outbox.ts";
import { LOCAL_DEFAULTS, simOptionsFromEnv, startSimServer } from "../../sim/server.ts";
import { APPID, MCH, KEY, officialSign, parse, placeOrder, toXml, type T } from "./peer.ts";

const ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";
const NACK = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function make(over: Partial<SimulatorOptions> = {}): Simulator {
  const sim = createSimulator({ appId: APPID, mchId: MCH, apiKey: KEY, appSecret: "s", delivery: "outbox", ...over });
  cleanups.push(() => sim.close());
  return sim;
}
const json = async (sim: Simulator, path: string, body?: unknown) => {
  const res = await sim.fetch(new Request("http://sim.test" + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }));
  return { status: res.status, body: await res.json() };
};

describe("POST /__sim/pay", () => {
  it("good paySign: pays, queues one signed notification WITHOUT sign_type carrying every documented field", async () => {
    const sim = make();
    const payment = await placeOrder(sim, "P1", { totalFee: "2590", attach: "a&b<c>" });
    const r = await json(sim, "/__sim/pay", { payment });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ outTradeNo: "P1", state: "SUCCESS" });
    expect(r.body.transactionId).toMatch(/^4200\d{24}$/);
    expect(r.body.deliveryIds).toHaveLength(1);
    const { body } = await json(sim, "/__sim/deliveries/take", {});
    expect(body.deliveries).toHaveLength(1);
    const d = body.deliveries[0];
    expect(d).toMatchObject({ id: r.body.deliveryIds[0], kind: "pay", url: "https://shop.test/wechat/pay/notify", attempt: 1 });
    const f = parse(d.body);
    expect(f.sign_type).toBeUndefined();
    expect(f.sign).toBe(officialSign(f, "MD5"));
    expect(f).toMatchObject({
      return_code: "SUCCESS", result_code: "SUCCESS", appid: APPID, mch_id: MCH, openid: sim.openidFor("alice"), is_subscribe: "N", trade_type: "JSAPI",
      bank_type: "OTHERS", total_fee: "2590", fee_type: "CNY", cash_fee: "2590", transaction_id: r.body.transactionId, out_trade_no: "P1", attach: "a&b<c>",
    });
    expect(f.time_end).toMatch(/^\d{14}$/);
    expect(d.body).toContain("<total_fee>2590</total_fee>"); // numbers plain, strings CDATA, like WeChat
    // taken = in flight: not handed out twice
    expect((await json(sim, "/__sim/deliveries/take", {})).body.deliveries).toHaveLength(0);
  });

  it("HMAC orders: HMAC-signed notify without sign_type by default, with it on request", async () => {
    const sim = make();
    const payment = await placeOrder(sim, "H1", { type: "HMAC-SHA256" });
    await json(sim, "/__sim/pay", { payment, includeSignType: false });
    const payment2 = await placeOrder(sim, "H2", { type: "HMAC-SHA256" });
    await json(sim, "/__sim/pay", { payment: payment2, includeSignType: true });
    const [a, b] = (await json(sim, "/__sim/deliveries/take", {})).body.deliveries.map((d: { body: string }) => parse(d.body));
    expect(a.sign_type).toBeUndefined();
    expect(a.sign).toHaveLength(64);
    expect(a.sign).toBe(officialSign(a, "HMAC-SHA256"));
    expect(b.sign_type).toBe("HMAC-SHA256");
    expect(b.sign).toBe(officialSign(b, "HMAC-SHA256"));
  });

  it("bad paySign, wrong appId, signType mismatch, millisecond timeStamp, unknown prepay_id, already paid → 4xx with a clear error", async () => {
    const sim = make();
    const payment = await placeOrder(sim, "B1");
    const bad = await json(sim, "/__sim/pay", { payment: { ...payment, paySign: payment.paySign.replace(/^./, (c) => (c === "0" ? "1" : "0")) } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "BAD_PAYSIGN" });
    expect(bad.body.error).toContain("支付验证签名失败");
    const otherApp = { ...payment, paySign: officialSign({ appId: "wx0000000000000001", timeStamp: payment.timeStamp, nonceStr: payment.nonceStr, package: payment.package, signType: "MD5" }, "MD5") };
    expect((await json(sim, "/__sim/pay", { payment: otherApp })).body.code).toBe("BAD_PAYSIGN");
    const hm = { ...payment, signType: "HMAC-SHA256" };
    hm.paySign = officialSign({ appId: APPID, timeStamp: hm.timeStamp, nonceStr: hm.nonceStr, package: hm.package, signType: hm.signType }, "HMAC-SHA256");
    expect(await json(sim, "/__sim/pay", { payment: hm })).toMatchObject({ status: 400, body: { code: "SIGN_TYPE_MISMATCH" } });
    const ms = { ...payment, timeStamp: String(Date.now()) };
    ms.paySign = officialSign({ appId: APPID, timeStamp: ms.timeStamp, nonceStr: ms.nonceStr, package: ms.package, signType: "MD5" }, "MD5");
    expect(await json(sim, "/__sim/pay", { payment: ms })).toMatchObject({ status: 400, body: { code: "BAD_TIMESTAMP" } });
    expect(await json(sim, "/__sim/pay", { payment: { ...payment, package: "prepay_id=wx_nope" } })).toMatchObject({ status: 404, body: { code: "UNKNOWN_PREPAY_ID" } });
    expect(await json(sim, "/__sim/pay", { payment: { ...payment, package: payment.package.slice("prepay_id=".length) } })).toMatchObject({ status: 400, body: { code: "BAD_PACKAGE" } });
    expect(await json(sim, "/__sim/pay", {})).toMatchObject({ status: 400 });
    expect((await json(sim, "/__sim/orders/B1")).body.state).toBe("NOTPAY");
    expect((await json(sim, "/__sim/pay", { payment })).status).toBe(200);
    expect(await json(sim, "/__sim/pay", { payment })).toMatchObject({ status: 409, body: { code: "ORDER_PAID" } });
  });

  it("expired prepay_id (2 h, via the clock endpoint) → 410", async () => {
    const sim = make();
    const payment = await placeOrder(sim, "E1");
    await json(sim, "/__sim/clock", { advanceSeconds: 7200 });
    expect(await json(sim, "/__sim/pay", { payment })).toMatchObject({ status: 410, body: { code: "PREPAY_EXPIRED" } });
  });

  it("result FAIL → order PAYERROR and a signed result_code=FAIL notification", async () => {
    const sim = make();
    const payment = await placeOrder(sim, "F1");
    const r = await json(sim, "/__sim/pay", { payment, result: "FAIL" });
    expect(r.body.state).toBe("PAYERROR");
    const f = parse((await json(sim, "/__sim/deliveries/take", {})).body.deliveries[0].body);
    expect(f).toMatchObject({ return_code: "SUCCESS", result_code: "FAIL", err_code: "PAYERROR", out_trade_no: "F1" });
    expect(f.sign).toBe(officialSign(f, "MD5"));
    expect((await json(sim, "/__sim/orders/F1")).body.state).toBe("PAYERROR");
  });

  it("notify none (lost notification): paid, nothing queued, orderquery tells the truth", async () => {
    const sim = make();
    const payment = await placeOrder(sim, "N1");
    const r = await json(sim, "/__sim/pay", { payment, notify: "none" });
    expect(r.body.deliveryIds).toEqual([]);
    expect((await json(sim, "/__sim/deliveries")).body.deliveries).toEqual([]);
    expect((await json(sim, "/__sim/orders/N1")).body).toMatchObject({ state: "SUCCESS", transactionId: r.body.transactionId });
  });
});

describe("outbox delivery (vitest mode)", () => {
  it("take/result: FAIL XML, HTTP 500 and plain 'SUCCESS' are not acks; retries follow the schedule × timeScale; exact XML acks", async () => {
    let now = 1_700_000_000_000;
    const sim = make({ now: () => now, timeScale: 1 });
    const payment = await placeOrder(sim, "O1");
    const [id] = (await json(sim, "/__sim/pay", { payment })).body.deliveryIds;
    const take = async () => (await json(sim, "/__sim/deliveries/take", { max: 10 })).body.deliveries;
    const result = async (b: unknown) => (await json(sim, `/__sim/deliveries/${id}/result`, b)).body;
    expect(await take()).toHaveLength(1);
    expect(await result({ status: 200, body: NACK })).toEqual({ acknowledged: false, nextAttemptAt: now + 15_000 });
    expect(await take()).toHaveLength(0); // not due yet
    now += 15_000;
    expect((await take())[0].attempt).toBe(2);
    expect(await result({ status: 500, body: ACK })).toEqual({ acknowledged: false, nextAttemptAt: now + 15_000 });
    now += 15_000;
    await take();
    expect(await result({ status: 200, body: "SUCCESS" })).toEqual({ acknowledged: false, nextAttemptAt: now + 30_000 });
    now += 30_000;
    await take();
    expect(await result({ error: "connection refused" })).toEqual({ acknowledged: false, nextAttemptAt: now + 180_000 });
    now += 180_000;
    await take();
    expect(await result({ status: 200, body: ACK })).toEqual({ acknowledged: true, nextAttemptAt: null });
    expect((await json(sim, `/__sim/deliveries/${id}/result`, { status: 200, body: ACK })).status).toBe(409);
    const { deliveries } = (await json(sim, "/__sim/deliveries")).body;
    expect(deliveries[0]).toMatchObject({ id, status: "acknowledged", acknowledged: true });
    expect(deliveries[0].attempts.map((a: { n: number; status: number | null; acknowledged: boolean }) => [a.n, a.status, a.acknowledged])).toEqual([
      [1, 200, false], [2, 500, false], [3, 200, false], [4, null, false], [5, 200, true],
    ]);
  });

  it("timeScale 0: every retry is due at once; 16 sends in total, then it gives up", async () => {
    const sim = make({ timeScale: 0 });
    const payment = await placeOrder(sim, "G1");
    await json(sim, "/__sim/pay", { payment });
    const results = await drainOutbox((r) => sim.fetch(r), async () => new Response("SUCCESS", { status: 200 }), { maxRounds: 100 });
    expect(RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0)).toBe(24 * 3600 + 4 * 60);
    expect(results).toHaveLength(16);
    expect(results.every((r) => !r.acknowledged)).toBe(true);
    expect(results.at(-1)!.nextAttemptAt).toBeNull();
    expect((await json(sim, "/__sim/deliveries")).body.deliveries[0].status).toBe("gave_up");
  });

  it("duplicate = sequential copies of the same body; concurrent = N copies due together", async () => {
    const sim = make();
    const p1 = await placeOrder(sim, "D1");
    const dup = (await json(sim, "/__sim/pay", { payment: p1, notify: "duplicate" })).body;
    expect(dup.deliveryIds).toHaveLength(2);
    let batch = (await json(sim, "/__sim/deliveries/take", {})).body.deliveries;
    expect(batch.map((d: { id: string }) => d.id)).toEqual([dup.deliveryIds[0]]); // the second waits for the first
    await json(sim, `/__sim/deliveries/${dup.deliveryIds[0]}/result`, { status: 200, body: ACK });
    batch = (await json(sim, "/__sim/deliveries/take", {})).body.deliveries;
    expect(batch.map((d: { id: string }) => d.id)).toEqual([dup.deliveryIds[1]]);
    const p2 = await placeOrder(sim, "D2");
    const conc = (await json(sim, "/__sim/pay", { payment: p2, notify: "concurrent", copies: 10 })).body;
    const all = (await json(sim, "/__sim/deliveries/take", {})).body.deliveries;
    expect(all).toHaveLength(10);
    expect(new Set(all.map((d: { body: string }) => d.body)).size).toBe(1);
    expect(all.map((d: { id: string }) => d.id)).toEqual(conc.deliveryIds);
  });

  it("drainOutbox delivers into a handler and reports its replies", async () => {
    const sim = make({ timeScale: 0 });
    const payment = await placeOrder(sim, "W1");
    await json(sim, "/__sim/pay", { payment, notify: "concurrent", copies: 3 });
    const seen: string[] = [];
    const results = await drainOutbox((r) => sim.fetch(r), async (req) => {
      expect(req.headers.get("content-type")).toBe("text/xml");
      seen.push(parse(await req.text()).out_trade_no!);
      return new Response(ACK, { status: 200 });
    });
    expect(seen).toEqual(["W1", "W1", "W1"]);
    expect(results.map((r) => r.acknowledged)).toEqual([true, true, true]);
  });
});

describe("http delivery (npm run sim / e2e mode)", () => {
  async function receiver(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
    const server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => handler(req, body, res));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wechat/pay/notify`, server };
  }
  const waitFor = async (pred: () => Promise<boolean>, ms = 5000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await pred()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("timed out waiting");
  };

  it("a receiver that fails twice then ACKs: 3 attempts, acknowledged", async () => {
    const got: { ct: string | undefined; body: string }[] = [];
    const { url } = await receiver((req, body, res) => {
      got.push({ ct: req.headers["content-type"], body });
      if (got.length === 1) { res.writeHead(500); res.end("oops"); return; }
      if (got.length === 2) { res.writeHead(200, { "content-type": "text/xml" }); res.end(NACK); return; }
      res.writeHead(200, { "content-type": "text/xml" });
      res.end(ACK);
    });
    const sim = make({ delivery: "http", timeScale: 0.001 });
    const payment = await placeOrder(sim, "HT1", { notifyUrl: url });
    await json(sim, "/__sim/pay", { payment });
    await waitFor(async () => (await json(sim, "/__sim/deliveries")).body.deliveries[0].status === "acknowledged");
    expect(got).toHaveLength(3);
    expect(got.every((g) => g.ct === "text/xml" && g.body === got[0]!.body)).toBe(true);
    const f = parse(got[0]!.body);
    expect(f.sign).toBe(officialSign(f, "MD5"));
    const d = (await json(sim, "/__sim/deliveries")).body.deliveries[0];
    expect(d.attempts.map((a: { status: number; acknowledged: boolean }) => [a.status, a.acknowledged])).toEqual([[500, false], [200, false], [200, true]]);
    expect(d.attempts[1].at - d.attempts[0].finishedAt).toBeGreaterThanOrEqual(14); // 15 s × 0.001
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toHaveLength(3); // no more sends after the ack
  });

  it("a receiver replying plain 'SUCCESS' is NOT an ack (keeps retrying)", async () => {
    let hits = 0;
    const { url } = await receiver((_req, _body, res) => {
      hits++;
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("SUCCESS");
    });
    const sim = make({ delivery: "http", timeScale: 0.0005 });
    const payment = await placeOrder(sim, "HT2", { notifyUrl: url });
    await json(sim, "/__sim/pay", { payment });
    await waitFor(async () => hits >= 4);
    const d = (await json(sim, "/__sim/deliveries")).body.deliveries[0];
    expect(d.acknowledged).toBe(false);
    expect(d.attempts.filter((a: { finishedAt: number | null }) => a.finishedAt !== null).every((a: { acknowledged: boolean }) => !a.acknowledged)).toBe(true);
  });

  it("a receiver slower than ackTimeoutMs counts as a failed attempt", async () => {
    let hits = 0;
    const { url } = await receiver((_req, _body, res) => {
      hits++;
      if (hits === 1) { setTimeout(() => { if (!res.destroyed) { res.writeHead(200); res.end(ACK); } }, 300); return; }
      res.writeHead(200);
      res.end(ACK);
    });
    const sim = make({ delivery: "http", timeScale: 0.001, ackTimeoutMs: 50 });
    const payment = await placeOrder(sim, "HT3", { notifyUrl: url });
    await json(sim, "/__sim/pay", { payment });
    await waitFor(async () => (await json(sim, "/__sim/deliveries")).body.deliveries[0].status === "acknowledged");
    const d = (await json(sim, "/__sim/deliveries")).body.deliveries[0];
    expect(d.attempts[0].error).toMatch(/timeout after 50 ms/);
    expect(d.attempts[1].acknowledged).toBe(true);
  });

  it("startSimServer: the same core over node:http, concurrent copies delivered to the receiver", async () => {
    let hits = 0;
    const { url } = await receiver((_req, _body, res) => {
      hits++;
      res.writeHead(200);
      res.end(ACK);
    });
    const srv = await startSimServer({ port: 0, log: () => {} });
    cleanups.push(() => srv.close());
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const q = new URLSearchParams({ appid: APPID, secret: "local-app-secret-for-the-simulator", js_code: "zed-1", grant_type: "authorization_code" });
    const login = await (await fetch(`${srv.url}/sns/jscode2session?${q}`)).json();
    expect(login.openid).toBe(srv.sim.openidFor("zed"));
    const f: Record<string, string> = {
      appid: APPID, mch_id: MCH, nonce_str: "abc", body: "Tea", out_trade_no: "SRV1", total_fee: "1", spbill_create_ip: "127.0.0.1", notify_url: url, trade_type: "JSAPI", openid: login.openid,
    };
    f.sign = officialSign(f, "MD5");
    const r = parse(await (await fetch(`${srv.url}/pay/unifiedorder`, { method: "POST", body: toXml(f) })).text());
    expect(r.result_code).toBe("SUCCESS");
    const p = { timeStamp: "1700000000", nonceStr: "x", package: `prepay_id=${r.prepay_id}`, signType: "MD5" };
    const pay = await fetch(`${srv.url}/__sim/pay`, { method: "POST", body: JSON.stringify({ payment: { ...p, paySign: officialSign({ appId: APPID, ...p }, "MD5") }, notify: "concurrent", copies: 4 }) });
    expect(pay.status).toBe(200);
    await waitFor(async () => hits === 4);
    await srv.sim.idle();
    const { deliveries } = await (await fetch(`${srv.url}/__sim/deliveries`)).json();
    expect(deliveries.map((d: { status: string }) => d.status)).toEqual(["acknowledged", "acknowledged", "acknowledged", "acknowledged"]);
  });

  it("simOptionsFromEnv: local defaults (equal to wrangler.jsonc/.dev.vars.example) and overrides", () => {
    expect(simOptionsFromEnv({})).toEqual({
      port: 8788, appId: "wxd930ea5d5a258f4f", mchId: "10000100", apiKey: "192006250b4c09247ec02edce69f6a2d", appSecret: "local-app-secret-for-the-simulator",
      timeScale: 1, closeMinAgeSeconds: 0, autoCompleteRefundsAfterMs: 3000,
    });
    expect(LOCAL_DEFAULTS.apiKey).toHaveLength(32);
    expect(simOptionsFromEnv({ SIM_PORT: "9000", WECHAT_APPID: "wxabc", SIM_TIME_SCALE: "0.01", SIM_CLOSE_MIN_AGE_SECONDS: "300" })).toMatchObject({ port: 9000, appId: "wxabc", timeScale: 0.01, closeMinAgeSeconds: 300 });
    expect(() => simOptionsFromEnv({ SIM_PORT: "x" })).toThrow(/SIM_PORT/);
  });
});
