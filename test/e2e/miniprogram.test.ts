// The mini-program example (examples/miniprogram) run in Node against the real local stack: the Worker
// under `wrangler dev` with a throwaway local D1/KV and the WeChat simulator over HTTP
// (scripts/local-stack.mjs, as `npm run demo` uses it). The example's CommonJS modules are loaded as
// they are; `wx` is a mock whose `request` does a real fetch, whose `requestPayment` plays the user
// through the simulator's control API (POST /__sim/pay) and whose `login` returns a fresh code the
// simulator accepts. `Page()` captures the checkout page's definition so its handlers run for real.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort, readVars, startStack } from "../../scripts/local-stack.mjs";

type Callbacks = { success?: (result: any) => void; fail?: (error: { errMsg: string }) => void };
type RequestOptions = Callbacks & { url: string; method?: string; data?: unknown; header?: Record<string, string> };
type PageInstance = Record<string, any> & { data: Record<string, any> };

const later = (fn: () => void) => void setTimeout(fn, 0);
let codes = 0;

/**
 * The slice of the `wx` API the example uses, recording what the page did. Requests and payments are
 * real HTTP calls; the knobs script what the network and the user do.
 */
class WxMock {
  readonly storage = new Map<string, unknown>();
  readonly requests: string[] = [];
  readonly failedRequests: string[] = [];
  readonly payments: string[] = [];
  readonly toasts: string[] = [];
  logins = 0;
  loadingVisible = false;
  /** hideLoading without a visible loading, and toasts shown over a loading: both are UI bugs. */
  strayHides = 0;
  toastsOverLoading = 0;
  /** What the user does at each wx.requestPayment sheet, in order ("pay" once the list is empty). */
  payPlan: ("pay" | "cancel")[] = [];
  /** How many wx.request calls fail with no answer right after the next successful payment. */
  dropAfterPayment = 0;
  /** wx.request calls still to fail with no answer (set by a payment from dropAfterPayment). */
  dropNext = 0;
  /** "METHOD /path" of requests the server handles but whose answer never arrives (once each). */
  loseAnswerOf: string[] = [];
  /** Whether wx.login answers with a code (it sometimes succeeds without one). */
  loginGivesCode = true;
  /** The answer to wx.showModal (the simulator payment's "Pay?" question). */
  modalConfirms = true;
  private readonly simUrl: string;
  private readonly user: string;

  constructor(simUrl: string, user: string) {
    this.simUrl = simUrl;
    this.user = user;
  }

  login = ({ success }: Callbacks) => {
    this.logins++;
    // The simulator takes the user from the part before the first "-"; every code is new.
    later(() => success?.(this.loginGivesCode ? { errMsg: "login:ok", code: `${this.user}-${++codes}` } : { errMsg: "login:ok" }));
  };

  request = ({ url, method = "GET", data, header, success, fail }: RequestOptions) => {
    const label = `${method} ${new URL(url).pathname}`;
    this.requests.push(label);
    if (this.dropNext > 0) {
      this.dropNext--;
      this.failedRequests.push(label);
      later(() => fail?.({ errMsg: "request:fail timeout" }));
      return;
    }
    const lost = this.loseAnswerOf.indexOf(label);
    if (lost >= 0) this.loseAnswerOf.splice(lost, 1);
    const body = method === "GET" || data === undefined ? undefined : JSON.stringify(data);
    fetch(url, { method, headers: header, body }).then(
      async (res) => {
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text); // wx.request's default dataType "json"
        } catch {}
        if (lost >= 0) {
          this.failedRequests.push(label);
          fail?.({ errMsg: "request:fail timeout" });
        } else success?.({ statusCode: res.status, data: parsed, header: Object.fromEntries(res.headers), errMsg: "request:ok" });
      },
      (error: Error) => fail?.({ errMsg: `request:fail ${error.message}` }),
    );
  };

  requestPayment = ({ success, fail, ...payment }: Callbacks & Record<string, unknown>) => {
    const action = this.payPlan.shift() ?? "pay";
    this.payments.push(action);
    if (action === "cancel") return later(() => fail?.({ errMsg: "requestPayment:fail cancel" }));
    void fetch(`${this.simUrl}/__sim/pay`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ payment }) }).then(async (res) => {
      if (res.status !== 200) return fail?.({ errMsg: `requestPayment:fail ${await res.text()}` });
      this.dropNext = this.dropAfterPayment;
      success?.({ errMsg: "requestPayment:ok" });
    });
  };

  getStorageSync = (key: string) => this.storage.get(key) ?? ""; // "" for a missing key, like WeChat
  setStorageSync = (key: string, value: unknown) => void this.storage.set(key, value);
  removeStorageSync = (key: string) => void this.storage.delete(key);

  showLoading = () => {
    this.loadingVisible = true;
  };
  hideLoading = () => {
    if (!this.loadingVisible) this.strayHides++;
    this.loadingVisible = false;
  };
  showToast = ({ title }: { title: string }) => {
    if (this.loadingVisible) this.toastsOverLoading++;
    this.toasts.push(title);
  };
  showModal = ({ success }: Callbacks) => later(() => success?.({ confirm: this.modalConfirms, cancel: !this.modalConfirms }));
  getAccountInfoSync = () => ({ miniProgram: { appId: "touristappid", envVersion: "develop", version: "" } });

  count(label: string) {
    return this.requests.filter((r) => r === label).length;
  }
}

// The example's modules, loaded as a mini program loads them (CommonJS), with `wx` and `Page` as globals.
const requireExample = createRequire(new URL("../../examples/miniprogram/app.js", import.meta.url));
let pageDefinition: Record<string, any> | undefined;
Object.assign(globalThis, { Page: (definition: Record<string, any>) => (pageDefinition = definition) });
const config = requireExample("./config.js");
const api = requireExample("./api.js");
requireExample("./pages/checkout/checkout.js");

const vars: Record<string, string> = { WECHAT_APPID: "wxd930ea5d5a258f4f", WECHAT_MCH_ID: "10000100", WECHAT_SIGN_TYPE: "MD5", ...readVars(".dev.vars.example") };
const persistTo = mkdtempSync(join(tmpdir(), "wxpay-miniprogram-"));
let stack: Awaited<ReturnType<typeof startStack>>;
const openPages: PageInstance[] = [];

/** A fresh `wx` for one user, installed as the global the example calls. */
function useWx(user: string) {
  const wx = new WxMock(stack.simUrl, user);
  Object.assign(globalThis, { wx });
  return wx;
}

/** A page instance as the framework makes one: its own copy of `data`, and a synchronous setData. */
function openPage(): PageInstance {
  const definition = pageDefinition!;
  const page: PageInstance = { ...definition, data: structuredClone(definition.data) };
  page.setData = (patch: Record<string, unknown>) => Object.assign(page.data, patch);
  openPages.push(page);
  return page;
}

const tap = (sku: string) => ({ currentTarget: { dataset: { sku } } });

/** The user's orders as the server lists them (GET /api/orders with the session the page stored). */
async function serverOrders(wx: WxMock) {
  const res = await fetch(`${stack.workerUrl}/api/orders`, { headers: { authorization: `Bearer ${wx.getStorageSync("token")}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { orders: { outTradeNo: string; status: string; totalFee: number }[] }).orders;
}

/** After every flow: the loading indicator is gone, was never hidden twice, never covered a toast. */
function expectCleanUi(wx: WxMock) {
  expect(wx.loadingVisible).toBe(false);
  expect(wx.strayHides).toBe(0);
  expect(wx.toastsOverLoading).toBe(0);
}

beforeAll(async () => {
  const [workerPort, simPort] = [await freePort(), await freePort()];
  stack = await startStack({ workerPort, simPort, persistTo, vars });
  for (const [sku, name, priceFen] of [["tea", "Oolong tea 250g", 1990], ["mint", "Mint candy", 7]] as const) {
    const res = await fetch(`${stack.workerUrl}/admin/products/${sku}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name, priceFen }),
    });
    expect(res.status).toBe(200);
  }
  config.API_BASE = stack.workerUrl;
  config.SIMULATOR_BASE = ""; // the real wx.requestPayment (mocked) unless a test turns the simulator path on
}, 150_000);

afterEach(() => {
  for (const page of openPages.splice(0)) page.onUnload();
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

describe("the checkout page against the Worker and the simulator", () => {
  it("buys a product: PAID is shown once the server confirms it", async () => {
    const wx = useWx("buyer");
    const page = openPage();
    await page.onLoad();
    expect(page.data.products).toContainEqual(expect.objectContaining({ sku: "tea", priceFen: 1990, price: "¥19.90" }));
    expect(page.data.products).toContainEqual(expect.objectContaining({ sku: "mint", price: "¥0.07" }));

    await page.buy(tap("tea"));
    expect(page.data).toMatchObject({ status: "PAID", message: "Paid. Thank you!", pending: "", checking: false, busy: false });
    expect(wx.toasts).toEqual(["Paid"]);
    const orders = await serverOrders(wx);
    expect(orders).toHaveLength(1);
    expect(orders[0]).toMatchObject({ status: "PAID", totalFee: 1990 });
    expectCleanUi(wx);
  }, 60_000);

  it("after paying, Shipping status shows not shipped, the tracking number once shipped, then the confirmed receipt (settlement push)", async () => {
    const wx = useWx("shipper");
    const page = openPage();
    await page.onLoad();
    await page.buy(tap("tea"));
    expect(page.data.status).toBe("PAID");
    await page.checkShipping();
    expect(page.data.shipping).toBe("Not shipped yet.");
    const res = await fetch(`${stack.workerUrl}/admin/orders/${page.data.paidOrder}/shipments`, {
      method: "POST",
      headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ logisticsType: "express", items: [{ trackingNo: "YT9876543210", expressCompany: "YTO", itemDesc: "Oolong tea" }] }),
    });
    expect(res.status).toBe(201);
    await page.checkShipping();
    expect(page.data.shipping).toBe("Shipped: YTO YT9876543210");
    // The user confirms receipt in WeChat: the simulator pushes the settlement (safe mode) to the Worker.
    const confirmed = await fetch(`${stack.simUrl}/__sim/shipping/confirm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outTradeNo: page.data.paidOrder, settle: true }),
    });
    expect(confirmed.status).toBe(200);
    const deadline = Date.now() + 10_000;
    while (page.data.shipping !== "Received and confirmed." && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      await page.checkShipping();
    }
    expect(page.data.shipping).toBe("Received and confirmed.");
    expectCleanUi(wx);
  }, 60_000);

  it("cancel at the payment sheet, then Pay again: PAID, still one order", async () => {
    const wx = useWx("canceller");
    wx.payPlan = ["cancel", "pay"];
    const page = openPage();
    await page.onLoad();

    await page.buy(tap("mint"));
    expect(page.data.status).toBe("CANCELLED");
    expect(page.data.message).toMatch(/cancelled.*pay again/i);
    const [order] = await serverOrders(wx);
    expect(page.data.pending).toBe(order!.outTradeNo);
    expect(order!.status).toBe("NOTPAY");

    await page.retry();
    expect(page.data).toMatchObject({ status: "PAID", pending: "" });
    expect(wx.payments).toEqual(["cancel", "pay"]);
    const orders = await serverOrders(wx);
    expect(orders).toHaveLength(1);
    expect(orders[0]).toMatchObject({ outTradeNo: order!.outTradeNo, status: "PAID", totalFee: 7 });
    expectCleanUi(wx);
  }, 60_000);

  it("a double tap on Buy creates one order and opens one payment sheet", async () => {
    const wx = useWx("doubletapper");
    const page = openPage();
    await page.onLoad();

    const first = page.buy(tap("tea"));
    expect(page.data.busy).toBe(true); // the button is disabled at once
    const second = page.buy(tap("tea")); // a tap that arrived before the page re-rendered
    await Promise.all([first, second]);

    expect(page.data.status).toBe("PAID");
    expect(wx.count("POST /api/orders")).toBe(1);
    expect(wx.payments).toEqual(["pay"]);
    const orders = await serverOrders(wx);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.status).toBe("PAID");
    expectCleanUi(wx);
  }, 60_000);

  it("paid, then the network fails: keeps the order, checks again and shows PAID (no failure, no second purchase)", async () => {
    const wx = useWx("unlucky");
    wx.dropAfterPayment = 1;
    const page = openPage();
    await page.onLoad();

    await page.buy(tap("tea"));
    const [order] = await serverOrders(wx);
    expect(wx.failedRequests).toEqual([`GET /api/orders/${order!.outTradeNo}`]); // the confirmation's first answer was lost
    expect(page.data).toMatchObject({ status: "PAID", message: "Paid. Thank you!", pending: "" });
    expect(page.data.message).not.toMatch(/undefined|could not/i);
    expect(wx.count("POST /api/orders")).toBe(1);
    expect(order!.status).toBe("PAID");
    expect(await serverOrders(wx)).toHaveLength(1);
    expectCleanUi(wx);
  }, 60_000);

  it("paid, then the server stays unreachable: shows checking… (never a failure), then PAID once it answers", async () => {
    const wx = useWx("offline");
    wx.dropAfterPayment = 1_000;
    const page = openPage();
    await page.onLoad();

    await page.buy(tap("mint")); // confirm() keeps asking for 20 s, then hands over to the page
    expect(page.data).toMatchObject({ status: "CHECKING", checking: true, pending: "" });
    expect(page.data.message).toMatch(/checking/);
    expect(wx.toasts).toEqual([]); // no failure toast, nothing that invites a second purchase
    expect(wx.failedRequests.length).toBeGreaterThan(3);

    wx.dropNext = 0; // the network is back
    await page.checkAgain();
    expect(page.data).toMatchObject({ status: "PAID", checking: false });
    expect(await serverOrders(wx)).toHaveLength(1);
    expect(wx.count("POST /api/orders")).toBe(1);
    expectCleanUi(wx);
  }, 60_000);

  it("cancel at the payment sheet, then Cancel order: CLOSED, and the next Buy is a new order", async () => {
    const wx = useWx("changedmind");
    wx.payPlan = ["cancel"];
    const page = openPage();
    await page.onLoad();

    await page.buy(tap("tea"));
    const first = page.data.pending;
    await page.cancelOrder();
    expect(page.data).toMatchObject({ status: "CLOSED", message: "Order cancelled.", pending: "" });
    expect((await serverOrders(wx))[0]).toMatchObject({ outTradeNo: first, status: "CLOSED" });

    await page.buy(tap("tea"));
    expect(page.data.status).toBe("PAID");
    const orders = await serverOrders(wx);
    expect(orders.map((o) => o.status).sort()).toEqual(["CLOSED", "PAID"]);
    expectCleanUi(wx);
  }, 60_000);

  it("the order's answer is lost: the retry reuses the Idempotency-Key and finds the same order", async () => {
    const wx = useWx("lostanswer");
    wx.loseAnswerOf = ["POST /api/orders"];
    const page = openPage();
    await page.onLoad();

    await page.buy(tap("mint"));
    expect(wx.failedRequests).toEqual(["POST /api/orders"]);
    expect(wx.count("POST /api/orders")).toBe(2); // the server handled both; the second answered with the first's order
    expect(page.data.status).toBe("PAID");
    const orders = await serverOrders(wx);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.status).toBe("PAID");
  }, 60_000);

  it("a development build pays through the simulator (config.SIMULATOR_BASE), and its Cancel cancels", async () => {
    const wx = useWx("devbuild");
    config.SIMULATOR_BASE = stack.simUrl;
    try {
      const page = openPage();
      await page.onLoad();
      wx.modalConfirms = false;
      await page.buy(tap("tea"));
      expect(page.data.status).toBe("CANCELLED");
      wx.modalConfirms = true;
      await page.buy(tap("tea")); // the same purchase intent: the server answers with the waiting order
      expect(page.data.status).toBe("PAID");
      expect(wx.payments).toEqual([]); // wx.requestPayment itself was never called
      const orders = await serverOrders(wx);
      expect(orders).toHaveLength(1);
      expect(orders[0]!.status).toBe("PAID");
      expectCleanUi(wx);
    } finally {
      config.SIMULATOR_BASE = "";
    }
  }, 60_000);
});

describe("the API client", () => {
  it("concurrent 401s share one re-login", async () => {
    const wx = useWx("expired");
    wx.setStorageSync("token", "an-expired-session-token");
    const answers = await Promise.all([1, 2, 3].map(() => api.request("GET", "/api/orders")));
    for (const answer of answers) expect(answer).toEqual({ orders: [], nextCursor: null });
    expect(wx.logins).toBe(1);
    expect(wx.count("POST /api/login")).toBe(1);
    expect(wx.count("GET /api/orders")).toBe(6); // three 401s, three retries with the new token
    expect(wx.getStorageSync("token")).not.toBe("an-expired-session-token");
  }, 60_000);

  it("wx.login without a code fails as LOGIN_FAILED before calling the server, and the page says so", async () => {
    const wx = useWx("nocode");
    wx.loginGivesCode = false;
    await expect(api.request("GET", "/api/orders")).rejects.toMatchObject({ code: "LOGIN_FAILED" });
    expect(wx.count("POST /api/login")).toBe(0);

    const page = openPage();
    await page.onLoad();
    expect(page.data.message).toBe("Could not sign in with WeChat. Please try again.");
    expect(page.data.busy).toBe(false);
    expectCleanUi(wx);
  }, 60_000);
});
