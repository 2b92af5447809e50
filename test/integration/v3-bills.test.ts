// GET /admin/reconciliation/:yyyymmdd through WeChat Pay API v3's trade bill (tradebill: a signed
// ticket with the SHA-1 of the uncompressed file, then the gzipped download), in each trust mode: one
// merchant bill reconciles the orders placed with v2 and with v3. The simulator's bill holds every
// test file's trades of the day, so the exact-diff tests play WeChat between the Worker and the
// simulator (a fetch spy): the real bill is downloaded with a request signed here, cut to this file's
// rows (or edited), and served under a ticket signed here with the key the simulator signs with, whose
// hash_value is the edited file's SHA-1. Dates: as in bills.test.ts, the service is asked as of noon
// Beijing the next day.
import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config";
import { ApiError } from "../../src/errors";
import { reconcileBill } from "../../src/orders/bill-reconcile";
import { buildDeps } from "../../src/orders/deps";
import { rsaSign } from "../oracle";
import { login, putProduct, sim } from "./harness";
import { beijingToday, completeAtWechat, deliverOwn, onlyRows, orderRow, paidOrder, reportWithoutDifferences, requestRefund, spyWechat } from "./refund-harness";
import { apiWith, deliverWith, KEYS, loginWith, receivedV3, setSimMode, TRUST_MODES, v3Env, type TrustMode } from "./v3-harness";

const DAY_MS = 86_400_000;
const beijingAt = (date: string, time: string) => Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}T${time}+08:00`);
const beijingDateOf = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10).replace(/-/g, "");

/** Every out_trade_no this file created (the bill's rows that belong to this file's D1). */
const mine = new Set<string>();
const v2Paid: { outTradeNo: string; transactionId: string }[] = [];
const v3Paid: { outTradeNo: string; transactionId: string }[] = [];
/** The Beijing date of this file's payments (today). */
let day: string;

beforeAll(async () => {
  await setSimMode("publicKey");
  await putProduct("v3b-item", "V3 bill item", 250);
  // Two orders placed with v2 (the pinned bindings) and two with v3, one refund of each.
  const v2Token = await login("v3-bills-v2");
  for (const quantity of [1, 2]) {
    const order = await paidOrder(v2Token, "v3b-item", quantity);
    mine.add(order.outTradeNo);
    v2Paid.push(order);
  }
  const v3 = v3Env("publicKey");
  const v3Token = await loginWith(v3, "v3-bills-v3");
  for (const quantity of [3, 4]) {
    const created = await apiWith(v3, "POST", "/api/orders", { token: v3Token, body: { items: [{ sku: "v3b-item", quantity }] } });
    const paid = (await sim("POST", "/pay", { payment: created.body.payment })).body;
    await deliverWith(v3);
    expect(await orderRow(created.body.order.outTradeNo)).toMatchObject({ status: "PAID", api: "v3" });
    mine.add(created.body.order.outTradeNo);
    v3Paid.push({ outTradeNo: created.body.order.outTradeNo, transactionId: paid.transactionId });
  }
  const v2Refund = (await requestRefund(v2Paid[0]!.outTradeNo, 100)).body.refund.outRefundNo;
  await deliverOwn(await completeAtWechat(v2Refund, "SUCCESS"));
  const v3Refund = (await apiWith(v3, "POST", `/admin/orders/${v3Paid[0]!.outTradeNo}/refunds`, { token: env.ADMIN_TOKEN, body: { refundFee: 250 } })).body.refund.outRefundNo;
  await sim("POST", "/refunds/complete", { outRefundNo: v3Refund, status: "SUCCESS" });
  await deliverWith(v3);
  day = beijingDateOf((await orderRow(v2Paid[0]!.outTradeNo)).paid_at);
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await setSimMode("publicKey");
});

/**
 * `date`'s report from the Worker configured with `workerEnv`, as the service sees it at noon Beijing
 * the next day. Only the service's clock moves: the v3 client keeps signing with the real time, as
 * WeChat checks each request's timestamp against its own clock (5 minutes).
 */
async function reportNextDay(workerEnv: Env, date: string) {
  const config = loadConfig(workerEnv);
  if (!config.ok) throw new Error(`config: ${config.problems.join("; ")}`);
  const now = beijingAt(date, "12:00:00") + DAY_MS;
  const deps = buildDeps(workerEnv, config.config);
  return JSON.parse(JSON.stringify(await reconcileBill({ ...deps, now: () => new Date(now) }, date)));
}

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const through = (bytes: Uint8Array, stream: CompressionStream | DecompressionStream) => new Response(new Blob([bytes]).stream().pipeThrough(stream));

/** A v3 GET signed with the merchant's key (node:crypto), as the Worker signs its own. */
function merchantSignedGet(url: string): Request {
  const u = new URL(url);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = crypto.randomUUID().replace(/-/g, "");
  const signature = rsaSign(`GET\n${u.pathname}${u.search}\n${timestamp}\n${nonce}\n\n`, KEYS.merchantKey);
  const authorization = `WECHATPAY2-SHA256-RSA2048 mchid="${env.WECHAT_MCH_ID}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${KEYS.merchantSerial}"`;
  return new Request(u, { headers: { authorization, accept: "application/json", "user-agent": "v3-bills-test" } });
}

/** A JSON reply signed as WeChat Pay signs it, with the key behind `serial` (the public key's id or the platform certificate's serial). */
function wechatSignedJson(body: string, serial: string): Response {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = crypto.randomUUID().replace(/-/g, "");
  const key = serial === KEYS.publicKeyId ? KEYS.wechatPayPrivateKey : KEYS.platformKey;
  return new Response(body, {
    headers: {
      "content-type": "application/json",
      "wechatpay-timestamp": timestamp,
      "wechatpay-nonce": nonce,
      "wechatpay-serial": serial,
      "wechatpay-signature": rsaSign(`${timestamp}\n${nonce}\n${body}\n`, key),
      "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048",
    },
  });
}

/**
 * Plays WeChat between the Worker and the simulator for one trade bill: the day's real bill, `edit`ed
 * (default: this file's rows only), served gzipped under a signed ticket whose hash_value is the edited
 * file's SHA-1 (or, with `keepHash`, the original's). Records what the Worker asked for.
 */
function editedBill(options: { edit?: (text: string) => string; keepHash?: boolean } = {}) {
  const files = new Map<string, Uint8Array>();
  const seen = { tickets: [] as string[], originalWasGzip: false };
  const spy = spyWechat(async (request, path, forward) => {
    if (path === "/v3/bill/tradebill") {
      seen.tickets.push(new URL(request.url).search);
      const reply = await forward(request);
      if (reply.status !== 200) return reply;
      const ticket = (await reply.json()) as { hash_value: string; download_url: string };
      const original = new Uint8Array(await (await forward(merchantSignedGet(ticket.download_url))).arrayBuffer());
      seen.originalWasGzip = original[0] === 0x1f && original[1] === 0x8b;
      const text = await through(original, new DecompressionStream("gzip")).text();
      const edited = (options.edit ?? ((t) => onlyRows(t, mine)))(text);
      const token = `edited-${Math.random().toString(36).slice(2)}`;
      files.set(token, new Uint8Array(await through(new TextEncoder().encode(edited), new CompressionStream("gzip")).arrayBuffer()));
      const hashValue = options.keepHash ? ticket.hash_value : hex(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(edited)));
      const downloadUrl = `${new URL(ticket.download_url).origin}/v3/billdownload/file?token=${token}`;
      return wechatSignedJson(JSON.stringify({ hash_type: "SHA1", hash_value: hashValue, download_url: downloadUrl }), reply.headers.get("wechatpay-serial")!);
    }
    const file = path === "/v3/billdownload/file" ? files.get(new URL(request.url).searchParams.get("token") ?? "") : undefined;
    return file ? new Response(file, { headers: { "content-type": "application/x-gzip" } }) : undefined;
  });
  return { ...spy, seen };
}

describe.each(TRUST_MODES)("one v3 trade bill for v2 and v3 orders (%s mode)", (mode: TrustMode) => {
  const v3 = v3Env(mode);
  beforeAll(async () => {
    await setSimMode(mode);
  });

  it("reconciles both APIs' payments and refunds to an empty diff, from a gzipped bill checked against its SHA-1", async () => {
    const { paths, seen } = editedBill();
    const body = await reportNextDay(v3, day);
    // (In certificate mode the first verification may also download /v3/certificates.)
    expect(paths.filter((p) => p !== "/v3/certificates")).toEqual(["/v3/bill/tradebill", "/v3/billdownload/file"]);
    const billDate = `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`;
    expect(seen.tickets).toEqual([`?bill_date=${billDate}&bill_type=ALL&tar_type=GZIP`]);
    expect(seen.originalWasGzip).toBe(true);
    expect(body).toEqual(reportWithoutDifferences(day, { paymentCount: 4, paymentFee: (1 + 2 + 3 + 4) * 250, refundCount: 2, refundFee: 100 + 250 }));
  });
});

describe("differences found through the v3 bill", () => {
  const v3 = v3Env("publicKey");
  beforeAll(async () => {
    await setSimMode("publicKey");
  });

  it("a local amount that differs and an unreadable row: each its own difference, the rest still reconciled", async () => {
    const victim = v3Paid[1]!;
    const broken = v2Paid[1]!;
    await env.DB.prepare("UPDATE orders SET total_fee = 999 WHERE out_trade_no = ?").bind(victim.outTradeNo).run();
    try {
      // One row gains a field (what a backtick in a merchant-written text would do to it).
      editedBill({ edit: (text) => onlyRows(text, mine).replace(new RegExp(`(\`${broken.outTradeNo},[^\\r\\n]*)`), "$1,`extra") });
      const body = await reportNextDay(v3, day);
      expect(body.mismatched).toEqual([
        { kind: "payment", outTradeNo: victim.outTradeNo, transactionId: victim.transactionId, outRefundNo: null, field: "totalFee", wechat: 1000, local: 999 },
      ]);
      expect(body.unreadable).toEqual([{ line: expect.any(Number), reason: expect.stringMatching(/field/) }]);
      expect(body.missingAtWechat).toEqual([
        { kind: "payment", outTradeNo: broken.outTradeNo, transactionId: broken.transactionId, outRefundNo: null, localFee: 500, localStatus: "PAID" },
      ]);
      expect(body.missingLocally).toEqual([]);
      expect(body.summary.differences).toBe(3);
    } finally {
      await env.DB.prepare("UPDATE orders SET total_fee = 1000 WHERE out_trade_no = ?").bind(victim.outTradeNo).run();
    }
  });

  it("a file whose SHA-1 is not the ticket's → 502 UPSTREAM_ERROR saying so; nothing reconciled", async () => {
    editedBill({ keepHash: true, edit: (text) => onlyRows(text, mine) });
    const error = await apiError(reportNextDay(v3, day));
    expect(error.status).toBe(502);
    expect(error.code).toBe("UPSTREAM_ERROR");
    expect(error.message).toContain("SHA-1");
  });

  it("the unfiltered bill of the shared simulator: nothing of ours is reported, everything reported is unknown here", async () => {
    const body = await reportNextDay(v3, day);
    const ours = (item: { outTradeNo: string }) => mine.has(item.outTradeNo);
    expect(body.missingAtWechat).toEqual([]);
    expect(body.mismatched.filter(ours)).toEqual([]);
    expect(body.missingLocally.filter(ours)).toEqual([]);
    for (const item of body.missingLocally) expect(item.localStatus).toBeNull();
    expect(body.summary.wechat.paymentCount).toBeGreaterThanOrEqual(4);
  });

  it("NO_STATEMENT_EXIST → an empty report; STATEMENT_CREATING → 503 BILL_NOT_READY with Retry-After", async () => {
    const date = beijingToday(-45);
    const empty = await apiWith(v3, "GET", `/admin/reconciliation/${date}`, { token: env.ADMIN_TOKEN });
    expect(empty.status).toBe(200);
    expect(empty.body.summary).toMatchObject({ billExists: false, differences: 0 });
    expect((await receivedV3("/v3/bill/tradebill")).map((r) => r.query.bill_date)).toContain(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}`);

    await sim("POST", "/faults", { path: "/v3/bill/tradebill", fault: "bill_creating", times: 1 });
    const creating = await apiWith(v3, "GET", `/admin/reconciliation/${beijingToday(-2)}`, { token: env.ADMIN_TOKEN });
    expect(creating.status).toBe(503);
    expect(creating.body.error.code).toBe("BILL_NOT_READY");
    expect(Number(creating.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("an UNSIGNED NO_STATEMENT_EXIST is not believed: 502, never a report listing every payment as missing", async () => {
    spyWechat(async (_request, path) =>
      path === "/v3/bill/tradebill" ? Response.json({ code: "NO_STATEMENT_EXIST", message: "账单不存在" }, { status: 400 }) : undefined,
    );
    const reply = await apiWith(v3, "GET", `/admin/reconciliation/${beijingToday(-45)}`, { token: env.ADMIN_TOKEN });
    expect(reply.status).toBe(502);
    expect(reply.body.error.code).toBe("UPSTREAM_ERROR");
  });

  it("with WECHAT_PAY_API=v2 (and its key) the same day is reconciled through v2's downloadbill", async () => {
    const { paths } = spyWechat();
    const reply = await apiWith(v3Env("publicKey", { WECHAT_PAY_API: "v2" }), "GET", `/admin/reconciliation/${beijingToday(-45)}`, { token: env.ADMIN_TOKEN });
    expect(reply.status).toBe(200);
    expect(paths).toEqual(["/pay/downloadbill"]);
  });
});
