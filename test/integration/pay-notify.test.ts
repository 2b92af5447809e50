// POST /wechat/pay/notify against every payment-notify row of the test catalogue (B01–B33) and the
// notify faults (F01–F06). Refused messages must change nothing: no D1 row, no event, no KV hint.
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import {
  ORIGIN, createOrder, deliverNotifications, login, payInWechat, payNotifyFields, postNotify, putProduct, rows,
  signWechat, signedNotifyXml, snapshot, toXml,
} from "./harness";

const ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";
const NOTIFY = "/wechat/pay/notify";

let token: string;
beforeAll(async () => {
  await putProduct("notify-item", "Notify test item", 100);
  token = await login("notify");
});
afterEach(() => vi.restoreAllMocks());

/** A fresh NOTPAY order of 100 fen. */
async function newOrder() {
  const { status, body } = await createOrder(token, [{ sku: "notify-item", quantity: 1 }]);
  expect(status).toBe(201);
  return { outTradeNo: body.order.outTradeNo as string, totalFee: 100 as number };
}

async function orderRow(outTradeNo: string) {
  return (await rows("SELECT status, transaction_id FROM orders WHERE out_trade_no = ?", outTradeNo))[0];
}

function expectAck(reply: { status: number; text: string; headers: Headers }) {
  expect(reply.status).toBe(200);
  expect(reply.headers.get("content-type")).toMatch(/^text\/xml/);
  expect(reply.text).toBe(ACK);
}

function expectFail(reply: { status: number; text: string; headers: Headers }, status: number) {
  expect(reply.status).toBe(status);
  expect(reply.text).toMatch(/^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[[^<]*\]\]><\/return_msg><\/xml>$/);
  expect(reply.text).not.toMatch(/Error|at \w+ \(|stack/);
}

/** Asserts the call is refused with `status` and changes nothing at all. */
async function expectRefusedWithoutWrites(send: () => Promise<{ status: number; text: string; headers: Headers }>, status = 400) {
  const before = await snapshot();
  const reply = await send();
  if (status === 413) expect(reply.status).toBe(413);
  else expectFail(reply, status);
  expect(await snapshot()).toEqual(before);
  return reply;
}

describe("transport, size, encoding (B01–B08)", () => {
  it("B01 empty body → 400", async () => {
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, ""));
  });

  it("B02 33 KiB body with Content-Length → 413", async () => {
    const before = await snapshot();
    const reply = await postNotify(NOTIFY, `<xml>${"a".repeat(33 * 1024)}</xml>`);
    expect(reply.status).toBe(413);
    expect(reply.text).not.toMatch(/Error|stack/);
    expect(await snapshot()).toEqual(before);
  });

  it("B03 10 MB chunked body without Content-Length → 413 without buffering it all", async () => {
    let pulled = 0;
    const chunk = new TextEncoder().encode("<a>".repeat(21_846)); // ~64 KiB
    const stream = new ReadableStream({
      pull(controller) {
        if (pulled >= 10 * 1024 * 1024) return controller.close();
        pulled += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const before = await snapshot();
    const res = await exports.default.fetch(`${ORIGIN}${NOTIFY}`, { method: "POST", body: stream, headers: { "content-type": "text/xml" } });
    expect(res.status).toBe(413);
    await res.text();
    expect(pulled).toBeLessThan(10 * 1024 * 1024);
    expect(await snapshot()).toEqual(before);
  });

  it("B04 GBK bytes: invalid UTF-8 → 400; valid-but-wrong UTF-8 fails the signature → 400", async () => {
    const order = await newOrder();
    const fields = payNotifyFields(order, { attach: "中" });
    const xml = signedNotifyXml(fields);
    const utf8 = new TextEncoder().encode(xml);
    const gbkInvalid = replaceBytes(utf8, new TextEncoder().encode("中"), new Uint8Array([0xd6, 0xd0]));
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, gbkInvalid));
    const fields2 = payNotifyFields(order, { attach: "支" });
    const utf8b = new TextEncoder().encode(signedNotifyXml(fields2));
    const gbkValid = replaceBytes(utf8b, new TextEncoder().encode("支"), new Uint8Array([0xd6, 0xa7]));
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, gbkValid));
    expect((await orderRow(order.outTradeNo))?.status).toBe("NOTPAY");
  });

  it("B05 BOM + XML prolog + valid signed body → ACK, PAID", async () => {
    const order = await newOrder();
    const body = `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n${signedNotifyXml(payNotifyFields(order))}`;
    expectAck(await postNotify(NOTIFY, body));
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAID");
  });

  it("B06 content type is not trusted: application/json or none still parses as XML → ACK", async () => {
    const a = await newOrder();
    expectAck(await postNotify(NOTIFY, signedNotifyXml(payNotifyFields(a)), { "content-type": "application/json" }));
    const b = await newOrder();
    expectAck(await postNotify(NOTIFY, new TextEncoder().encode(signedNotifyXml(payNotifyFields(b))), {}));
    expect((await orderRow(a.outTradeNo))?.status).toBe("PAID");
    expect((await orderRow(b.outTradeNo))?.status).toBe("PAID");
  });

  it("B07 JSON body → 400", async () => {
    const order = await newOrder();
    await expectRefusedWithoutWrites(() =>
      postNotify(NOTIFY, JSON.stringify({ ...payNotifyFields(order), sign: "X" }), { "content-type": "application/json" }),
    );
  });

  it("B08 GET and PUT on the notify path → 405", async () => {
    const before = await snapshot();
    for (const method of ["GET", "PUT"]) {
      const res = await exports.default.fetch(`${ORIGIN}${NOTIFY}`, { method, body: method === "PUT" ? "<xml/>" : undefined });
      expect(res.status).toBe(405);
      await res.text();
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe("hostile XML (B09–B20)", () => {
  const hostile: [string, (valid: string) => string][] = [
    ["B09 DOCTYPE with a file entity", () => `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><return_code>&xxe;</return_code></xml>`],
    ["B10 external DTD", (v) => `<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd">${v}`],
    ["B11 parameter entity", () => `<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><xml><a>1</a></xml>`],
    ["B12 billion laughs", () => `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><a>&lol3;</a></xml>`],
    ["B13 __proto__ tag", (v) => v.replace("</xml>", "<__proto__><polluted>yes</polluted></__proto__></xml>")],
    ["B13 constructor/prototype tags", (v) => v.replace("</xml>", "<constructor><prototype><polluted>yes</polluted></prototype></constructor></xml>")],
    ["B14 hasOwnProperty tag", (v) => v.replace("</xml>", "<hasOwnProperty>1</hasOwnProperty></xml>")],
    ["B14 toString tag", (v) => v.replace("</xml>", "<toString>1</toString></xml>")],
    // 10 000 levels opened inside the 32 KiB cap (closing them all would be 70 KiB: 413, see B02).
    ["B15 10 000-deep nesting", () => `<xml>${"<a>".repeat(10_000)}x</xml>`],
    ["B16 500 small tags", () => `<xml>${Array.from({ length: 500 }, (_, i) => `<f${i}>1</f${i}>`).join("")}</xml>`],
    ["B17 duplicate total_fee", (v) => v.replace("</xml>", "<total_fee>1</total_fee></xml>")],
    ["B17 duplicate sign", (v) => v.replace("</xml>", "<sign>0000</sign></xml>")],
    ["B18 mixed content", (v) => v.replace(/<total_fee>.*?<\/total_fee>/, "<total_fee>1<b>2</b></total_fee>")],
    ["B18 nested xml", (v) => `<xml>${v}</xml>`],
    ["B19 mismatched tags", (v) => v.replace("</total_fee>", "</total_fe>")],
    ["B19 unclosed tag", (v) => v.replace("</xml>", "")],
    ["B19 two roots", (v) => v + v],
    ["B19 trailing garbage", (v) => `${v}garbage`],
    ["B20 NUL in a value", (v) => v.replace("<![CDATA[JSAPI]]>", "<![CDATA[JSA\u0000PI]]>")],
    ["B20 control character in a value", (v) => v.replace("<![CDATA[JSAPI]]>", "<![CDATA[JSA\u0007PI]]>")],
  ];

  for (const [name, build] of hostile) {
    it(`${name} → 400, no outbound request, no writes`, async () => {
      const order = await newOrder();
      const fetchSpy = vi.spyOn(globalThis, "fetch");
      const started = performance.now();
      await expectRefusedWithoutWrites(() => postNotify(NOTIFY, build(signedNotifyXml(payNotifyFields(order)))));
      expect(fetchSpy).not.toHaveBeenCalled();
      expect(({} as any).polluted).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(5_000); // a sanity bound, not a benchmark
      expect((await orderRow(order.outTradeNo))?.status).toBe("NOTPAY");
    });
  }
});

describe("signature (B21–B27)", () => {
  it("B21 missing sign → 400", async () => {
    const order = await newOrder();
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, toXml(payNotifyFields(order))));
  });

  it("B22 one hex digit off → 400", async () => {
    const order = await newOrder();
    const fields = payNotifyFields(order);
    const sign = signWechat(fields, env.WECHAT_PAY_KEY);
    const off = sign.slice(0, -1) + (sign.endsWith("0") ? "1" : "0");
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, toXml({ ...fields, sign: off })));
  });

  it("B23 HMAC-SHA256 sign while MD5 is pinned, and sign_type=HMAC-SHA256 in the message → 400", async () => {
    const order = await newOrder();
    const fields = payNotifyFields(order);
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, signedNotifyXml(fields, env.WECHAT_PAY_KEY, "HMAC-SHA256")));
    const typed = { ...fields, sign_type: "HMAC-SHA256" };
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, signedNotifyXml(typed, env.WECHAT_PAY_KEY, "HMAC-SHA256")));
  });

  it("B24 an unknown extension field included in the signature → ACK", async () => {
    const order = await newOrder();
    expectAck(await postNotify(NOTIFY, signedNotifyXml(payNotifyFields(order, { new_field: "x" }))));
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAID");
  });

  it("B25 a value changed after signing → 400", async () => {
    const order = await newOrder();
    const xml = signedNotifyXml(payNotifyFields(order)).replace("<total_fee><![CDATA[100]]>", "<total_fee><![CDATA[1]]>");
    expect(xml).toContain("<total_fee><![CDATA[1]]>");
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, xml));
  });

  it("B26 an empty field excluded from signing → ACK", async () => {
    const order = await newOrder();
    expectAck(await postNotify(NOTIFY, signedNotifyXml(payNotifyFields(order, { attach: "" }))));
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAID");
  });

  it("B27 63-, 65-character and non-hex signs → 400 without throwing", async () => {
    const order = await newOrder();
    const fields = payNotifyFields(order);
    for (const sign of ["A".repeat(63), "A".repeat(65), "Z".repeat(32), "", "g".repeat(64)]) {
      await expectRefusedWithoutWrites(() => postNotify(NOTIFY, toXml({ ...fields, sign })));
    }
  });
});

describe("business fields (B28–B33)", () => {
  it("B28 signed but wrong amount → not PAID, anomaly persisted, then ACK", async () => {
    const order = await newOrder();
    const fields = payNotifyFields({ ...order, totalFee: 1 });
    expectAck(await postNotify(NOTIFY, signedNotifyXml(fields)));
    expect((await orderRow(order.outTradeNo))?.status).toBe("NOTPAY");
    const events = await rows("SELECT verdict, detail FROM events WHERE out_trade_no = ?", order.outTradeNo);
    expect(events).toHaveLength(1);
    expect(events[0].verdict).toBe("anomaly");
    expect(JSON.parse(events[0].detail)).toMatchObject({ reason: "amount_mismatch", expected: 100, received: 1 });
    // A retry of the same message adds nothing.
    expectAck(await postNotify(NOTIFY, signedNotifyXml(fields)));
    expect(await rows("SELECT id FROM events WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(1);
  });

  it("B28 when the anomaly cannot be persisted → 500 so WeChat retries", async () => {
    const order = await newOrder();
    // Only the anomaly insert fails (INSERT ... VALUES); the payment batch's INSERT ... SELECT runs.
    const failingDb = wrapDb(env.DB, { failOn: (sql) => sql.startsWith("INSERT OR IGNORE INTO events") && sql.includes("VALUES") });
    const reply = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: signedNotifyXml(payNotifyFields({ ...order, totalFee: 1 })) }, { ...env, DB: failingDb });
    expect(reply.status).toBe(500);
    expect(await rows("SELECT id FROM events WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(0);
  });

  it("B29 another merchant's appid or mch_id → 400, no writes", async () => {
    const order = await newOrder();
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, signedNotifyXml(payNotifyFields(order, { appid: "wx0000000000000000" }))));
    await expectRefusedWithoutWrites(() => postNotify(NOTIFY, signedNotifyXml(payNotifyFields(order, { mch_id: "19999999" }))));
  });

  it("B30 unknown out_trade_no → 500 (retryable), an anomaly, no order created", async () => {
    const fields = payNotifyFields({ outTradeNo: "NOSUCHORDER123", totalFee: 100 });
    const reply = await postNotify(NOTIFY, signedNotifyXml(fields));
    expectFail(reply, 500);
    expect(await rows("SELECT * FROM orders WHERE out_trade_no = 'NOSUCHORDER123'")).toHaveLength(0);
    const events = await rows("SELECT verdict, detail FROM events WHERE out_trade_no = 'NOSUCHORDER123'");
    expect(events.map((e) => [e.verdict, JSON.parse(e.detail).reason])).toEqual([["anomaly", "unknown_order"]]);
  });

  it("B31 result_code=FAIL → PAYERROR recorded, not PAID, ACK", async () => {
    const order = await newOrder();
    const fields = payNotifyFields(order, { result_code: "FAIL", err_code: "NOTENOUGH", err_code_des: "balance" });
    expectAck(await postNotify(NOTIFY, signedNotifyXml(fields)));
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAYERROR");
    expect(await rows("SELECT kind, verdict FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ kind: "pay_notify", verdict: "applied" }]);
  });

  it("B32 fee_type=USD or trade_type=NATIVE → not PAID, anomaly, ACK", async () => {
    for (const override of [{ fee_type: "USD" }, { trade_type: "NATIVE" }] as Record<string, string>[]) {
      const order = await newOrder();
      expectAck(await postNotify(NOTIFY, signedNotifyXml(payNotifyFields(order, override))));
      expect((await orderRow(order.outTradeNo))?.status).toBe("NOTPAY");
      expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ verdict: "anomaly" }]);
    }
  });

  it("B33 replaying the original notify after the order was REFUNDED → ACK, stays REFUNDED, no new event", async () => {
    const order = await newOrder();
    const fields = payNotifyFields(order);
    const xml = signedNotifyXml(fields);
    expectAck(await postNotify(NOTIFY, xml));
    await env.DB.prepare("UPDATE orders SET status = 'REFUNDED', refunded_fee = total_fee WHERE out_trade_no = ?").bind(order.outTradeNo).run();
    // Drop this payment's KV hint so the replay reaches the D1 guard, not the fast path.
    expect(await env.NOTIFY_KV.get(`paid:${fields.transaction_id}`)).not.toBeNull();
    await env.NOTIFY_KV.delete(`paid:${fields.transaction_id}`);
    const events = await rows("SELECT id FROM events WHERE out_trade_no = ?", order.outTradeNo);
    expectAck(await postNotify(NOTIFY, xml));
    expect((await orderRow(order.outTradeNo))?.status).toBe("REFUNDED");
    expect(await rows("SELECT id FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual(events);
  });
});

describe("exactly once (duplicates, concurrency)", () => {
  it("the same notify again → ACK, one transition, one event; the duplicate costs no D1 write", async () => {
    const order = await newOrder();
    const xml = signedNotifyXml(payNotifyFields(order));
    expectAck(await postNotify(NOTIFY, xml));
    const after = await snapshot();
    expectAck(await postNotify(NOTIFY, xml));
    expect(await snapshot()).toEqual(after);
    expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ verdict: "applied" }]);
  });

  it("F04 10 identical notifies at once (simulator, concurrent) → all ACK, PAID once, one event", async () => {
    const { body } = await createOrder(token, [{ sku: "notify-item", quantity: 1 }]);
    await payInWechat(body.payment, { notify: "concurrent", copies: 10 });
    const outcomes = await deliverNotifications();
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
    expect(outcomes.every((o) => o.status === 200 && o.acknowledged)).toBe(true);
    expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ?", body.order.outTradeNo)).toEqual([{ verdict: "applied" }]);
    expect((await orderRow(body.order.outTradeNo))?.status).toBe("PAID");
  });

  it("F05 the genuine notify and a forged one (bad sign, other amount) at once → genuine ACK, forged 400, no anomaly", async () => {
    const order = await newOrder();
    const genuine = signedNotifyXml(payNotifyFields(order));
    const forgedFields = payNotifyFields({ ...order, totalFee: 1 });
    const forged = toXml({ ...forgedFields, sign: signWechat(forgedFields, "0".repeat(32)) });
    const [a, b] = await Promise.all([postNotify(NOTIFY, genuine), postNotify(NOTIFY, forged)]);
    expectAck(a);
    expectFail(b, 400);
    expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ verdict: "applied" }]);
  });

  it("accepts a notification signed with the previous key during a key rotation", async () => {
    const order = await newOrder();
    const previous = "P".repeat(32);
    const rotatedEnv = { ...env, WECHAT_PAY_KEY: "N".repeat(32), WECHAT_PAY_KEY_PREVIOUS: previous };
    const reply = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: signedNotifyXml(payNotifyFields(order), previous) }, rotatedEnv);
    expect(reply.status).toBe(200);
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAID");
  });

  it("verifies with the order's algorithm when WECHAT_SIGN_TYPE changed while the order was in flight", async () => {
    const order = await newOrder(); // placed with MD5
    const hmacEnv = { ...env, WECHAT_SIGN_TYPE: "HMAC-SHA256" };
    const md5 = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: signedNotifyXml(payNotifyFields(order)) }, hmacEnv);
    expect(md5.status).toBe(200);
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAID");
  });

  it("verifies HMAC-SHA256 notifications without sign_type when HMAC is pinned", async () => {
    // An order placed under HMAC: an MD5-signed notification for it is refused (algorithm pinned).
    const order = await newOrder();
    await env.DB.prepare("UPDATE orders SET sign_type = 'HMAC-SHA256' WHERE out_trade_no = ?").bind(order.outTradeNo).run();
    const hmacEnv = { ...env, WECHAT_SIGN_TYPE: "HMAC-SHA256" };
    const md5 = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: signedNotifyXml(payNotifyFields(order)) }, hmacEnv);
    expect(md5.status).toBe(400);
    const hmac = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: signedNotifyXml(payNotifyFields(order), env.WECHAT_PAY_KEY, "HMAC-SHA256") }, hmacEnv);
    expect(hmac.status).toBe(200);
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAID");
  });
});

describe("faults (F01–F03, F06)", () => {
  it("F01 D1 batch fails mid-notify → 500, no partial state; WeChat's retry → PAID with one event", async () => {
    const order = await newOrder();
    const xml = signedNotifyXml(payNotifyFields(order));
    // The event insert (2nd statement) fails after the UPDATE ran: the whole batch must roll back.
    const broken = wrapDb(env.DB, { failBatch: "inside" });
    const first = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: xml }, { ...env, DB: broken });
    expect(first.status).toBe(500);
    expect(await first.text()).not.toMatch(/no_such_table|D1|stack/);
    expect((await orderRow(order.outTradeNo))?.status).toBe("NOTPAY");
    expect(await rows("SELECT id FROM events WHERE out_trade_no = ?", order.outTradeNo)).toHaveLength(0);
    expectAck(await postNotify(NOTIFY, xml));
    expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ verdict: "applied" }]);
  });

  it("F02 D1 commits but the Worker dies before replying → the retry ACKs, still one event", async () => {
    const order = await newOrder();
    const xml = signedNotifyXml(payNotifyFields(order));
    const dying = wrapDb(env.DB, { failBatch: "after" });
    const first = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: xml }, { ...env, DB: dying });
    expect(first.status).toBe(500);
    expect((await orderRow(order.outTradeNo))?.status).toBe("PAID");
    expectAck(await postNotify(NOTIFY, xml));
    expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ verdict: "applied" }]);
  });

  it("F03 KV unavailable (get and put throw) → still correct from D1 alone, duplicates included", async () => {
    const order = await newOrder();
    const xml = signedNotifyXml(payNotifyFields(order));
    const brokenKv = new Proxy(env.NOTIFY_KV, {
      get: (target, prop) => (prop === "get" || prop === "put" ? () => Promise.reject(new Error("KV unavailable")) : Reflect.get(target, prop)),
    });
    const kvEnv = { ...env, NOTIFY_KV: brokenKv };
    for (let i = 0; i < 2; i++) {
      const reply = await app.request(`${ORIGIN}${NOTIFY}`, { method: "POST", body: xml }, kvEnv);
      expect(reply.status).toBe(200);
    }
    expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ?", order.outTradeNo)).toEqual([{ verdict: "applied" }]);
  });

  it("F06 a notify before the order row is visible → 500; after the insert the retry → PAID, nothing lost", async () => {
    const outTradeNo = `LATE${Date.now()}`;
    const fields = payNotifyFields({ outTradeNo, totalFee: 100 });
    const xml = signedNotifyXml(fields);
    expectFail(await postNotify(NOTIFY, xml), 500);
    const user = (await rows("SELECT id, openid FROM users LIMIT 1"))[0];
    await env.DB.prepare(
      `INSERT INTO orders (out_trade_no, user_id, openid, status, total_fee, description, sign_type, client_ip, notify_url,
        time_start, time_expire, created_at, expires_at, updated_at)
       VALUES (?, ?, ?, 'NOTPAY', 100, 'late', 'MD5', '127.0.0.1', 'x', '20261127000000', '20261127003000', 0, 0, 0)`,
    ).bind(outTradeNo, user.id, user.openid).run();
    expectAck(await postNotify(NOTIFY, xml));
    expect((await orderRow(outTradeNo))?.status).toBe("PAID");
    expect(await rows("SELECT verdict FROM events WHERE out_trade_no = ? AND verdict = 'applied'", outTradeNo)).toHaveLength(1);
  });

  it("F06 invariant: the order row is committed before unifiedorder is called", async () => {
    const seen: boolean[] = [];
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      if (new URL(request.url).pathname === "/pay/unifiedorder") {
        const body = await request.clone().text();
        const outTradeNo = /<out_trade_no><!\[CDATA\[([^\]]+)\]\]>/.exec(body)?.[1] ?? /<out_trade_no>([^<]+)</.exec(body)?.[1];
        seen.push((await rows("SELECT 1 FROM orders WHERE out_trade_no = ?", outTradeNo)).length === 1);
      }
      return realFetch(request);
    });
    const { status } = await createOrder(token, [{ sku: "notify-item", quantity: 1 }]);
    expect(status).toBe(201);
    expect(seen).toEqual([true]);
  });
});

function replaceBytes(haystack: Uint8Array, needle: Uint8Array, replacement: Uint8Array): Uint8Array {
  for (let i = 0; i <= haystack.length - needle.length; i++) {
    if (needle.every((b, j) => haystack[i + j] === b)) {
      const out = new Uint8Array(haystack.length - needle.length + replacement.length);
      out.set(haystack.subarray(0, i));
      out.set(replacement, i);
      out.set(haystack.subarray(i + needle.length), i + replacement.length);
      return out;
    }
  }
  throw new Error("needle not found");
}

/** A D1 binding that fails on purpose: inside a batch (one statement fails), after it commits, or on matching statements. */
function wrapDb(db: D1Database, options: { failBatch?: "inside" | "after"; failOn?: (sql: string) => boolean }): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch" && options.failBatch) {
        return async (statements: D1PreparedStatement[]) => {
          if (options.failBatch === "inside") {
            const poisoned = [...statements];
            poisoned.splice(1, 1, target.prepare("INSERT INTO no_such_table VALUES (1)"));
            return target.batch(poisoned);
          }
          await target.batch(statements);
          throw new Error("Worker died after commit");
        };
      }
      if (prop === "prepare" && options.failOn) {
        return (sql: string) => {
          if (options.failOn!(sql.trim())) {
            const failing = { bind: () => failing, run: () => Promise.reject(new Error("D1_ERROR: Network connection lost.")), first: () => Promise.reject(new Error("D1_ERROR")), all: () => Promise.reject(new Error("D1_ERROR")) };
            return failing;
          }
          return target.prepare(sql);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
