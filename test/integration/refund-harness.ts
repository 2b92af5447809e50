/**
 * Helpers for the refund, reconciliation, bill and admin tests (issue 5), on top of harness.ts.
 *
 * The simulator is shared by every test file of the run, and its outbox hands out every due
 * notification to whoever asks. harness.ts's deliverNotifications delivers all of them to this
 * file's Worker; deliverOwn() instead delivers only the deliveries this test created, hands the
 * others straight back (reported as not delivered, so the simulator retries them for their owner),
 * and waits until its own were delivered by it even if another file took them first.
 * Faults are injected with a fetch spy (local to this file's isolate) rather than /__sim/faults,
 * whose per-path queue another file calling the same API could consume.
 */
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { signedXml } from "../oracle";
import { admin, api, createOrder, payInWechat, rows, sim } from "./harness";

export { xmlField } from "../oracle";

export interface OwnDelivery {
  id: string;
  kind: string;
  body: string;
  status: number;
  reply: string;
  acknowledged: boolean;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Delivers the simulator deliveries `ids` (once each) to this file's Worker; returns their outcomes. */
export async function deliverOwn(ids: readonly string[]): Promise<OwnDelivery[]> {
  const wanted = new Set(ids);
  const outcomes: OwnDelivery[] = [];
  for (let round = 0; round < 400 && wanted.size > 0; round++) {
    const taken = await sim("POST", "/deliveries/take", {});
    const deliveries: { id: string; kind: string; url: string; body: string; contentType?: string }[] = taken.body.deliveries ?? [];
    await Promise.all(
      deliveries.map(async (d) => {
        if (!wanted.has(d.id)) {
          await sim("POST", `/deliveries/${d.id}/result`, { error: "not this test file's delivery" });
          return;
        }
        // As WeChat sends it: XML notifications, JSON or XML message pushes.
        const res = await exports.default.fetch(d.url, { method: "POST", headers: { "content-type": d.contentType ?? "text/xml" }, body: d.body });
        const reply = await res.text();
        const result = await sim("POST", `/deliveries/${d.id}/result`, { status: res.status, body: reply });
        outcomes.push({ id: d.id, kind: d.kind, body: d.body, status: res.status, reply, acknowledged: result.body.acknowledged });
        wanted.delete(d.id);
      }),
    );
    if (wanted.size > 0) await pause(5);
  }
  expect([...wanted], "deliveries never became due").toEqual([]);
  return outcomes;
}

/** A NOTPAY order of `quantity` × sku for the user; returns the API order and payment. */
export async function newOrder(token: string, sku: string, quantity = 1) {
  const reply = await createOrder(token, [{ sku, quantity }]);
  expect(reply.status).toBe(201);
  return reply.body as { order: { outTradeNo: string; totalFee: number }; payment: Record<string, string> };
}

/**
 * A PAID order without any notification: the user pays in the simulator (notify lost), then the
 * owner's read confirms it with orderquery (query-on-read).
 */
export async function paidOrder(token: string, sku: string, quantity = 1) {
  const { order, payment } = await newOrder(token, sku, quantity);
  const paid = await payInWechat(payment, { notify: "none" });
  const read = await api("GET", `/api/orders/${order.outTradeNo}`, { token });
  expect(read.body.order.status).toBe("PAID");
  return { outTradeNo: order.outTradeNo, totalFee: order.totalFee, transactionId: paid.transactionId };
}

export const requestRefund = (outTradeNo: string, refundFee: unknown, reason?: unknown) =>
  admin("POST", `/orders/${outTradeNo}/refunds`, reason === undefined ? { refundFee } : { refundFee, reason });

/** Plays WeChat finishing a refund; returns the notification delivery ids (none with notify "none"). */
export async function completeAtWechat(outRefundNo: string, status: "SUCCESS" | "REFUNDCLOSE" | "CHANGE", notify: "normal" | "none" = "normal") {
  const reply = await sim("POST", "/refunds/complete", { outRefundNo, status, notify });
  expect(reply.status).toBe(200);
  return reply.body.deliveryIds as string[];
}

export const reconcile = () => admin("POST", "/reconcile");

/**
 * Fires the Worker's cron trigger through exports.default (the test-only
 * service_binding_extra_handlers flag is set in vitest.config.ts; the workers-types Fetcher type does
 * not declare scheduled()).
 */
export const runCron = () =>
  (exports.default as unknown as { scheduled(options: { cron: string }): Promise<{ outcome: string }> }).scheduled({ cron: "*/5 * * * *" });

/** Ages rows so the scheduled job looks at them (instead of waiting RECONCILE_DELAY_SECONDS etc.). */
export async function ageOrder(outTradeNo: string, ms: number, options: { expire?: boolean } = {}) {
  await env.DB.prepare(
    `UPDATE orders SET created_at = created_at - ?2, last_query_at = NULL,
       expires_at = CASE WHEN ?3 THEN ?4 ELSE expires_at END WHERE out_trade_no = ?1`,
  ).bind(outTradeNo, ms, options.expire ? 1 : 0, Date.now() - 1000).run();
}

export async function ageRefund(outRefundNo: string, ms: number) {
  await env.DB.prepare("UPDATE refunds SET created_at = created_at - ?2, updated_at = updated_at - ?2 WHERE out_refund_no = ?1").bind(outRefundNo, ms).run();
}

export const refundRow = async (outRefundNo: string) => (await rows("SELECT * FROM refunds WHERE out_refund_no = ?", outRefundNo))[0];
export const orderRow = async (outTradeNo: string) => (await rows("SELECT * FROM orders WHERE out_trade_no = ?", outTradeNo))[0];
export const eventsOf = (outTradeNo: string) =>
  rows<{ identity: string; kind: string; verdict: string; out_refund_no: string | null; detail: string | null }>(
    "SELECT identity, kind, verdict, out_refund_no, detail FROM events WHERE out_trade_no = ? ORDER BY id",
    outTradeNo,
  );

/** Requests the simulator received at `path` for one out_refund_no / out_trade_no. */
export async function received(path: string, field: string, value: string) {
  const reply = await sim("GET", `/received?path=${path}`);
  return (reply.body.requests as { fields: Record<string, string> | null }[]).filter((r) => r.fields?.[field] === value);
}

/** A reply signed like WeChat's, for fetch spies. */
export function wechatReply(fields: Record<string, string>): Response {
  const all: Record<string, string> = {
    return_code: "SUCCESS",
    return_msg: "OK",
    appid: env.WECHAT_APPID,
    mch_id: env.WECHAT_MCH_ID,
    nonce_str: crypto.randomUUID().replace(/-/g, ""),
    ...fields,
  };
  return new Response(signedXml(all, env.WECHAT_PAY_KEY), { headers: { "content-type": "text/xml" } });
}

/**
 * Spies on the Worker's outbound fetch (same isolate): `handler` may answer a WeChat call itself,
 * or return undefined to let it through to the simulator. Records every outbound path.
 */
export function spyWechat(handler: (request: Request, path: string, forward: (r: Request) => Promise<Response>) => Promise<Response | undefined> = async () => undefined) {
  const real = globalThis.fetch;
  const paths: string[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    paths.push(path);
    return (await handler(request.clone(), path, (r) => real(r))) ?? real(request);
  });
  return { paths, spy };
}

/** Today's date in Beijing time, yyyymmdd. */
export const beijingToday = (offsetDays = 0) =>
  new Date(Date.now() + 8 * 3600_000 + offsetDays * 86_400_000).toISOString().slice(0, 10).replace(/-/g, "");

const yuanToFen = (yuan: string) => {
  const [whole, frac = ""] = yuan.split(".");
  return Number(whole) * 100 + Number(frac.padEnd(2, "0").slice(0, 2));
};
export const fenToYuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, "0")}`;

/**
 * A downloaded bill restricted to rows of `keep` (by 商户订单号), with the summary row recomputed: the
 * simulator is shared by every test file, and its bill holds every file's trades of the day.
 */
export function onlyRows(text: string, keep: Set<string>): string {
  const bom = text.startsWith("\uFEFF") ? "\uFEFF" : "";
  const lines = text.slice(bom.length).split(/\r?\n/).filter((l) => l !== "");
  const columns = lines[0]!.split(",");
  const summaryAt = lines.findIndex((l, i) => i > 0 && l.startsWith("总交易单数"));
  const cells = (line: string) => line.slice(1).split(",`");
  const col = (name: string) => columns.indexOf(name);
  const data = lines.slice(1, summaryAt).filter((l) => keep.has(cells(l)[col("商户订单号")]!));
  const total = (name: string) => data.reduce((s, l) => s + yuanToFen(cells(l)[col(name)]!), 0);
  const summary = [String(data.length), fenToYuan(total("应结订单金额")), fenToYuan(total("退款金额")), "0.00", "0.00000", fenToYuan(total("订单金额")), fenToYuan(total("申请退款金额"))];
  return `${bom}${[lines[0], ...data, lines[summaryAt], summary.map((c) => "`" + c).join(",")].join("\r\n")}\r\n`;
}

/** Counts and totals of one side of a bill report. */
export interface BillTotals {
  paymentCount: number;
  paymentFee: number;
  refundCount: number;
  refundFee: number;
}

/** The report of a day whose bill and D1 agree: both sides `totals`, no difference listed. */
export const reportWithoutDifferences = (date: string, totals: BillTotals) => ({
  date,
  summary: { billExists: true, wechat: { ...totals, otherAppRows: 0 }, local: totals, differences: 0 },
  missingLocally: [],
  missingAtWechat: [],
  mismatched: [],
  unreadable: [],
});
