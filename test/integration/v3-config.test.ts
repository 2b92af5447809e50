// The v3 configuration as /health names it (problems name variables, never values), and switching
// WECHAT_PAY_API with orders in flight: an order keeps the API it was placed with, so v2 orders keep
// working while new orders use v3, and v3 orders still settle after switching back to v2.
import { createPrivateKey } from "node:crypto";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { PKCS1_TO_PKCS8 } from "../../src/wechatpay/v3/pem";
import { api, createOrder, deliverNotifications, login, payInWechat, putProduct, rows, sim } from "./harness";
import { apiWith, craftTransactionCallback, deliverWith, freshEnv, KEYS, loginWith, paidTransaction, postV3Notify, setSimMode, v3Env, v3Vars } from "./v3-harness";

const health = async (vars: Record<string, unknown>) => {
  const res = await app.request("https://shop.example/health", {}, { ...env, ...vars });
  return { status: res.status, body: (await res.json()) as { ok: boolean; problems?: string[] } };
};
const problemsOf = async (vars: Record<string, unknown>) => (await health(vars)).body.problems ?? [];

beforeAll(async () => {
  // The simulator is shared by every file: start from a clean one (no other file's pending notifications).
  await sim("POST", "/reset");
  await setSimMode("publicKey");
  await putProduct("v3cfg-item", "Config item", 300);
});
afterAll(async () => {
  await setSimMode("publicKey");
});

describe("/health and the v3 settings", () => {
  it("each trust mode's settings are a valid configuration", async () => {
    for (const mode of ["publicKey", "certificate", "migrating"] as const) expect(await health(v3Vars(mode))).toEqual({ status: 200, body: { ok: true } });
  });

  it("a PKCS#1 private key is named with the openssl command that converts it", async () => {
    const pkcs1 = createPrivateKey(KEYS.merchantKey).export({ type: "pkcs1", format: "pem" });
    expect(pkcs1).toContain("BEGIN RSA PRIVATE KEY");
    const problems = await problemsOf({ ...v3Vars("publicKey"), WECHAT_MCH_PRIVATE_KEY: pkcs1 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("WECHAT_MCH_PRIVATE_KEY");
    expect(problems[0]).toContain(PKCS1_TO_PKCS8);
    expect(problems.join()).not.toContain(pkcs1.split("\n")[1]);
  });

  it("the APIv3 key: 32 characters, and not the v2 key", async () => {
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_APIV3_KEY: KEYS.apiV3Key.slice(1) })).toEqual([
      "WECHAT_APIV3_KEY: the APIv3 key must be exactly 32 printable ASCII characters (merchant platform → API security → APIv3 key)",
    ]);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_APIV3_KEY: env.WECHAT_PAY_KEY })).toEqual([
      "WECHAT_APIV3_KEY must differ from WECHAT_PAY_KEY (the APIv3 key is set separately: merchant platform → API security)",
    ]);
  });

  it("the WeChat Pay public key: garbage, a certificate instead, an id without a key or a key without an id", async () => {
    const garbage = await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----" });
    expect(garbage).toHaveLength(1);
    expect(garbage[0]).toMatch(/^WECHAT_PAY_PUBLIC_KEY: the public key is not an SPKI/);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_PUBLIC_KEY: "pub_key.pem" })).toEqual([
      "WECHAT_PAY_PUBLIC_KEY: not a PEM block (expected -----BEGIN …----- … -----END …-----)",
    ]);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_PUBLIC_KEY: KEYS.platformCertificate })).toEqual([
      "WECHAT_PAY_PUBLIC_KEY: expected the WeChat Pay public key (pub_key.pem, BEGIN PUBLIC KEY), got a certificate",
    ]);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_PUBLIC_KEY: "" })).toEqual(["WECHAT_PAY_PUBLIC_KEY_ID needs WECHAT_PAY_PUBLIC_KEY"]);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_PUBLIC_KEY_ID: "" })).toEqual(["WECHAT_PAY_PUBLIC_KEY needs WECHAT_PAY_PUBLIC_KEY_ID"]);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_PUBLIC_KEY_ID: "0100000000000000000000000000000001" })).toEqual([
      "WECHAT_PAY_PUBLIC_KEY_ID must be the public key's id as shown on the merchant platform (PUB_KEY_ID_…)",
    ]);
  });

  it("WECHAT_PAY_API: v2 or v3; v3 needs its credentials, which may not come in part", async () => {
    expect(await problemsOf({ WECHAT_PAY_API: "v4" })).toEqual(["WECHAT_PAY_API must be v2 or v3"]);
    expect(await problemsOf({ WECHAT_PAY_API: "v3" })).toEqual(["WECHAT_PAY_API=v3 needs WECHAT_APIV3_KEY, WECHAT_MCH_PRIVATE_KEY and WECHAT_MCH_SERIAL"]);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_MCH_SERIAL: "" })).toEqual([
      "WECHAT_MCH_SERIAL is missing (the WeChat Pay API v3 credentials are set only in part)",
    ]);
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_MCH_SERIAL: "serial-1" })).toEqual([
      "WECHAT_MCH_SERIAL must be the merchant API certificate's serial in hex (openssl x509 -noout -serial -in apiclient_cert.pem)",
    ]);
    // With v2 for new orders, the v3 credentials are still read (and checked) whenever they are set.
    expect(await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_API: "v2", WECHAT_APIV3_KEY: "x" })).toHaveLength(1);
  });

  it("against WeChat's production host the public test keys are refused; v3 without a v2 key needs no mTLS certificate", async () => {
    const problems = await problemsOf({ ...v3Vars("publicKey"), WECHAT_PAY_KEY: "", WECHAT_PAY_BASE: "https://api.mch.weixin.qq.com" });
    expect(problems).toEqual(expect.arrayContaining([
      "WECHAT_APIV3_KEY is a public test key",
      "WECHAT_MCH_SERIAL is the serial of a public test certificate",
      "WECHAT_PAY_PUBLIC_KEY_ID is the test id of .dev.vars.example",
      "WECHAT_MCH_PRIVATE_KEY is a public test key",
      "WECHAT_PAY_PUBLIC_KEY is a public test key",
    ]));
    expect(problems.join("\n")).not.toContain("WXPAY_CERT");
    expect(problems.join("\n")).not.toContain("WECHAT_PAY_KEY");
  });
});

describe("switching WECHAT_PAY_API with orders in flight", () => {
  it("new orders use v3 while a v2 order keeps working with v2 (query-on-read, its XML notify)", async () => {
    const token = await login("v3cfg-switch");
    const v2order = (await createOrder(token, [{ sku: "v3cfg-item", quantity: 1 }])).body; // placed under v2
    expect(v2order.order.api).toBe("v2");
    const v3 = v3Env("publicKey");
    const v3order = (await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-item", quantity: 1 }] } })).body;
    expect([v3order.order.api, v3order.payment.signType]).toEqual(["v3", "RSA"]);
    // The v2 order, after the switch: a fresh v2 payment, paid, its v2 notification applied.
    const again = await apiWith(v3, "POST", `/api/orders/${v2order.order.outTradeNo}/payment`, { token });
    expect(again.body.payment.signType).toBe("MD5");
    const paid = await payInWechat(again.body.payment);
    const delivered = await deliverWith(v3);
    expect(delivered.filter((d) => d.url.endsWith("/wechat/pay/notify")).map((d) => d.status)).toEqual([200]);
    expect((await apiWith(v3, "GET", `/api/orders/${v2order.order.outTradeNo}`, { token })).body.order).toMatchObject({ status: "PAID", transactionId: paid.transactionId, api: "v2" });
  });

  it("a v3 order still settles after switching back to v2 (callback and query-on-read)", async () => {
    const v3 = v3Env("publicKey");
    const backToV2 = v3Env("publicKey", { WECHAT_PAY_API: "v2" });
    const token = await loginWith(v3, "v3cfg-back");
    const first = (await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-item", quantity: 1 }] } })).body;
    const second = (await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-item", quantity: 2 }] } })).body;
    // New orders are v2 again; the two v3 orders are paid and settle through v3.
    expect((await apiWith(backToV2, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-item", quantity: 1 }] } })).body.order.api).toBe("v2");
    const paidByCallback = (await sim("POST", "/pay", { payment: first.payment })).body;
    expect((await deliverWith(backToV2)).filter((d) => d.url.endsWith("/wechat/v3/pay/notify")).map((d) => d.status)).toEqual([200]);
    const paidSilently = (await sim("POST", "/pay", { payment: second.payment, notify: "none" })).body;
    expect((await apiWith(backToV2, "GET", `/api/orders/${second.order.outTradeNo}`, { token })).body.order).toMatchObject({ status: "PAID", transactionId: paidSilently.transactionId });
    expect((await rows("SELECT status, transaction_id FROM orders WHERE out_trade_no = ?", first.order.outTradeNo))[0]).toEqual({ status: "PAID", transaction_id: paidByCallback.transactionId });
  });

  it("on v3 without a v2 key: v2 operations answer 503 CONFIG_ERROR and /health names the open v2 order; its notify is refused with 500", async () => {
    const token = await login("v3cfg-nokey");
    const noKey = { ...v3Vars("publicKey"), WECHAT_PAY_KEY: "" };
    const v2order = (await createOrder(token, [{ sku: "v3cfg-item", quantity: 1 }])).body;
    const v3only = freshEnv(noKey);
    const payment = await apiWith(v3only, "POST", `/api/orders/${v2order.order.outTradeNo}/payment`, { token });
    expect([payment.status, payment.body.error.code]).toEqual([503, "CONFIG_ERROR"]);
    expect(payment.body.error.message).toContain("WECHAT_PAY_KEY");
    const cancel = await apiWith(v3only, "POST", `/api/orders/${v2order.order.outTradeNo}/cancel`, { token });
    expect(cancel.status).toBe(503);
    expect(await health(noKey)).toEqual({
      status: 503,
      body: { ok: false, problems: ["WECHAT_PAY_KEY is missing while orders placed with API v2 are still open (unpaid, or with refunds in progress)"] },
    });
    // New v3 orders work without it.
    expect((await apiWith(v3only, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-item", quantity: 1 }] } })).status).toBe(201);
    // Its v2 notification cannot be verified now: 500, WeChat retries (and the key may be set meanwhile).
    const paid = await payInWechat(v2order.payment);
    const refused = await deliverWith(v3only, 1);
    expect(refused.map((d) => d.status)).toEqual([500]);
    expect((await rows("SELECT status FROM orders WHERE out_trade_no = ?", v2order.order.outTradeNo))[0]).toEqual({ status: "NOTPAY" });
    // With the key back, WeChat's next attempt is applied.
    expect((await deliverNotifications()).map((d) => d.status)).toEqual([200]);
    expect((await api("GET", `/api/orders/${v2order.order.outTradeNo}`, { token })).body.order).toMatchObject({ status: "PAID", transactionId: paid.transactionId });
  });

  it("v3 orders open and no v3 credentials: /health names it, their payment answers 503 CONFIG_ERROR, v3 callbacks 503", async () => {
    const token = await login("v3cfg-nov3");
    const placed = (await apiWith(v3Env("publicKey"), "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-item", quantity: 1 }] } })).body.order;
    // The pinned bindings: v2, no v3 credentials.
    const payment = await api("POST", `/api/orders/${placed.outTradeNo}/payment`, { token });
    expect([payment.status, payment.body.error.code]).toEqual([503, "CONFIG_ERROR"]);
    expect((await api("GET", `/api/orders/${placed.outTradeNo}`, { token })).body.order).toMatchObject({ status: "NOTPAY", api: "v3" });
    expect((await health({})).body.problems).toEqual([
      "the WeChat Pay API v3 credentials are missing while orders placed with API v3 are still open (unpaid, or with refunds in progress)",
    ]);
    const callback = craftTransactionCallback(paidTransaction(placed));
    const reply = await postV3Notify(freshEnv({}), callback);
    expect([reply.status, JSON.parse(reply.text)]).toEqual([503, { code: "FAIL", message: "service unavailable" }]);
    expect((await rows("SELECT status FROM orders WHERE out_trade_no = ?", placed.outTradeNo))[0]).toEqual({ status: "NOTPAY" });
  });
});

describe("checkout under v3: what API v3 refuses is settled before the order exists", () => {
  it("emoji leave the description; an attach with one is a 400 and no order", async () => {
    const v3 = v3Env("publicKey");
    await putProduct("v3cfg-emoji", "Tea 🍵 set", 500);
    const token = await loginWith(v3, "v3cfg-emoji");
    const placed = await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-emoji", quantity: 1 }] } });
    expect(placed.status).toBe(201);
    expect(placed.body.order.description).toBe("Tea  set");
    const before = (await rows("SELECT COUNT(*) AS n FROM orders"))[0];
    const refused = await apiWith(v3, "POST", "/api/orders", { token, body: { items: [{ sku: "v3cfg-emoji", quantity: 1 }], attach: "table 🍵" } });
    expect([refused.status, refused.body.error.code]).toEqual([400, "BAD_REQUEST"]);
    expect((await rows("SELECT COUNT(*) AS n FROM orders"))[0]).toEqual(before);
  });
});
