/**
 * Daily bill reconciliation: WeChat's ALL bill for one Beijing date, diffed against D1. The merchant's
 * one bill holds the trades of orders placed with either API; it is fetched with v3's tradebill
 * (v3/bill.ts) when new orders use v3, else with v2's downloadbill. The file
 * format is the same, so the same parser and the same diff serve both.
 *
 * The window is the Beijing calendar day [date 00:00+08:00, next day 00:00+08:00), the same day
 * WeChat's bill covers: payments by paid_at (recorded from WeChat's time_end), refunds by the time
 * they were requested (WeChat dates refund rows by request time). Rows are matched by our own keys
 * (out_trade_no, out_refund_no), never by position:
 * - missingLocally: WeChat has the payment/refund and D1 does not (or the order is not PAID/REFUNDED);
 * - missingAtWechat: D1 has a payment (or a refund WeChat accepted) for that day that the bill lacks;
 * - mismatched: both have it but the amount (fen), status or transaction_id differ;
 * - unreadable: bill lines that could not be read (with line number and reason), each its own
 *   difference, while every other row is still reconciled; also the summary line when its trade
 *   count (总交易单数) differs from the rows the bill holds.
 * WeChat generates a day's bill from 09:00 Beijing the next day (fetch after 10:00), so only dates
 * before today (Beijing) are accepted (400 otherwise), and until 10:00 the next day "No Bill Exist"
 * or "Bill Creating" means "not yet": 503 BILL_NOT_READY with Retry-After. Later, "No Bill Exist" is
 * an empty bill (so a quiet day reports nothing, and a day with local payments reports them as
 * missing at WeChat), not an error; "Bill Creating" is still 503. A bill over MAX_BILL_BYTES (5 MiB)
 * and any other WeChat failure are 502 UPSTREAM_ERROR.
 */
import { ApiError, badRequest, upstreamError } from "../errors";
import { logEvent } from "../log";
import { getOrdersByNos, listOrdersPaidBetween, type OrderRow } from "../store/orders";
import { getRefundsByNos, listRefundsCreatedBetween, type RefundWithOrder } from "../store/refunds";
import type { Bill, BillRow, UnreadableBillLine } from "../wechatpay/bill";
import { beijingDate, parseBeijingDate } from "../wechatpay/time";
import type { Deps } from "./deps";
import { downloadBillV3 } from "./v3/bill";

const DAY_MS = 24 * 3600_000;
/** A day's bill can be fetched from 10:00 Beijing time the next day. */
const BILL_READY_AFTER_MS = DAY_MS + 10 * 3600_000;
/** Retry-After for "Bill Creating" once the usual ready time has passed. */
const RETRY_LATER_SECONDS = 600;

type Kind = "payment" | "refund";

export interface MissingLocally {
  kind: Kind;
  outTradeNo: string;
  transactionId: string;
  outRefundNo: string | null;
  wechatFee: number;
  wechatStatus: string;
  /** The order's (or refund's) status in D1, or null when D1 does not have it at all. */
  localStatus: string | null;
}

export interface MissingAtWechat {
  kind: Kind;
  outTradeNo: string;
  transactionId: string | null;
  outRefundNo: string | null;
  localFee: number;
  localStatus: string;
}

export interface Mismatch {
  kind: Kind;
  outTradeNo: string;
  transactionId: string;
  outRefundNo: string | null;
  field: "totalFee" | "refundFee" | "status" | "transactionId";
  wechat: number | string;
  local: number | string | null;
}

interface Totals {
  paymentCount: number;
  paymentFee: number;
  refundCount: number;
  refundFee: number;
}

export interface BillReport {
  date: string;
  summary: {
    billExists: boolean;
    /** From the bill's rows of our appid (a merchant's bill may hold other apps' trades: otherAppRows). */
    wechat: Totals & { otherAppRows: number };
    local: Totals;
    differences: number;
  };
  missingLocally: MissingLocally[];
  missingAtWechat: MissingAtWechat[];
  mismatched: Mismatch[];
  unreadable: UnreadableBillLine[];
}

/** Validates `yyyymmdd` as a real Beijing date before today (its bill can exist); else 400. */
export function parseBillDate(date: string, now: Date): number {
  let start: number;
  try {
    start = parseBeijingDate(date).getTime();
  } catch {
    throw badRequest("date must be a real date written yyyymmdd (Beijing time)");
  }
  if (date >= beijingDate(now)) {
    throw badRequest("date must be before today (Beijing time): WeChat's bill for a day exists from 10:00 Beijing time the next day");
  }
  return start;
}

/** 503 BILL_NOT_READY; Retry-After: until 10:00 Beijing the next day, or a while once that has passed. */
function billNotReady(date: string, start: number, now: number): ApiError {
  const readyAt = start + BILL_READY_AFTER_MS;
  const seconds = readyAt > now ? Math.max(60, Math.ceil((readyAt - now) / 1000)) : RETRY_LATER_SECONDS;
  return new ApiError(503, "BILL_NOT_READY", `WeChat has not generated the bill for ${date} yet (bills exist from 10:00 Beijing time the next day); try again later`, {
    "Retry-After": String(seconds),
  });
}

/** What WeChat said about a day's bill (either API); any other failure is thrown as an ApiError. */
export type BillOfDay = { kind: "bill"; bill: Bill } | { kind: "no_bill" } | { kind: "bill_creating" };

/** downloadbill (v2). */
async function downloadBillV2(deps: Deps, date: string): Promise<BillOfDay> {
  const result = await deps.payClient().downloadBill({ billDate: date, billType: "ALL" });
  if (!result.ok) {
    logEvent("downloadbill_failed", {
      date,
      kind: result.kind,
      returnMsg: result.kind === "return_fail" ? result.returnMsg : null,
      // The transport or parser's reason (e.g. "malformed bill: missing summary"); never bill content.
      message: result.kind === "transport" ? result.message : null,
    });
    if (result.kind === "bill_creating") return result;
    if (result.kind === "too_large") {
      const mib = Math.round(result.maxBytes / 1024 / 1024);
      throw upstreamError(`WeChat's bill for ${date} is larger than ${mib} MiB, more than this endpoint reconciles; download it from the merchant platform`);
    }
    throw upstreamError(result.kind === "return_fail" ? `WeChat could not provide the bill: ${result.returnMsg}` : undefined);
  }
  return result;
}

export async function reconcileBill(deps: Deps, date: string): Promise<BillReport> {
  const start = parseBillDate(date, deps.now());
  const end = start + DAY_MS;

  // One merchant bill holds the trades of both APIs; v3's when new orders use it (the v2 key is
  // optional only then).
  const day = deps.config.payApi === "v3" ? await downloadBillV3(deps, date) : await downloadBillV2(deps, date);
  if (day.kind === "bill_creating") throw billNotReady(date, start, deps.now().getTime());
  // Before the bill's usual ready time, "No Bill Exist" may only mean "not generated yet".
  if (day.kind === "no_bill" && deps.now().getTime() < start + BILL_READY_AFTER_MS) throw billNotReady(date, start, deps.now().getTime());
  const fetched = day.kind === "bill" ? day.bill : null;
  const allRows = fetched?.rows ?? [];
  const unreadable = fetched ? unreadableLines(fetched) : [];
  const [first] = unreadable;
  if (first) logEvent("bill_unreadable_lines", { date, count: unreadable.length, firstLine: first.line, firstReason: first.reason });
  const rows = allRows.filter((r) => r.appId === deps.config.appId);
  const billPayments = rows.filter((r) => r.tradeState !== "REFUND");
  const billRefunds = rows.filter((r) => r.tradeState === "REFUND" && r.outRefundNo);

  const [localPaid, localRefunds] = await Promise.all([
    listOrdersPaidBetween(deps.db, start, end),
    listRefundsCreatedBetween(deps.db, start, end),
  ]);

  const missingLocally: MissingLocally[] = [];
  const missingAtWechat: MissingAtWechat[] = [];
  const mismatched: Mismatch[] = [];

  // Payments.
  const orders = new Map(localPaid.map((o) => [o.out_trade_no, o]));
  const elsewhere = billPayments.map((r) => r.outTradeNo).filter((no) => !orders.has(no));
  for (const o of await getOrdersByNos(deps.db, [...new Set(elsewhere)])) orders.set(o.out_trade_no, o);
  const seenOrders = new Set<string>();
  const wechat: Totals = { paymentCount: 0, paymentFee: 0, refundCount: 0, refundFee: 0 };
  for (const row of billPayments) {
    const fee = row.orderFeeFen ?? row.totalFeeFen;
    wechat.paymentCount++;
    wechat.paymentFee += fee;
    seenOrders.add(row.outTradeNo);
    const order = orders.get(row.outTradeNo);
    if (!order || !isPaid(order)) {
      missingLocally.push({
        kind: "payment", outTradeNo: row.outTradeNo, transactionId: row.transactionId, outRefundNo: null,
        wechatFee: fee, wechatStatus: row.tradeState, localStatus: order?.status ?? null,
      });
      continue;
    }
    const base = { kind: "payment" as const, outTradeNo: row.outTradeNo, transactionId: row.transactionId, outRefundNo: null };
    if (order.transaction_id !== row.transactionId) mismatched.push({ ...base, field: "transactionId", wechat: row.transactionId, local: order.transaction_id });
    if (order.total_fee !== fee) mismatched.push({ ...base, field: "totalFee", wechat: fee, local: order.total_fee });
    if (row.tradeState !== "SUCCESS") mismatched.push({ ...base, field: "status", wechat: row.tradeState, local: order.status });
  }
  for (const order of localPaid) {
    if (seenOrders.has(order.out_trade_no)) continue;
    missingAtWechat.push({
      kind: "payment", outTradeNo: order.out_trade_no, transactionId: order.transaction_id, outRefundNo: null,
      localFee: order.total_fee, localStatus: order.status,
    });
  }

  // Refunds.
  const refunds = new Map(localRefunds.map((r) => [r.out_refund_no, r]));
  const unknownRefunds = billRefunds.map((r) => r.outRefundNo ?? "").filter((no) => !refunds.has(no));
  for (const r of await getRefundsByNos(deps.db, [...new Set(unknownRefunds)])) refunds.set(r.out_refund_no, r);
  const seenRefunds = new Set<string>();
  for (const row of billRefunds) {
    const outRefundNo = row.outRefundNo ?? "";
    const requested = requestedFen(row);
    wechat.refundCount++;
    wechat.refundFee += row.refundFeeFen ?? 0;
    seenRefunds.add(outRefundNo);
    const refund = refunds.get(outRefundNo);
    if (!refund) {
      missingLocally.push({
        kind: "refund", outTradeNo: row.outTradeNo, transactionId: row.transactionId, outRefundNo,
        wechatFee: requested, wechatStatus: row.refundState ?? "", localStatus: null,
      });
      continue;
    }
    const base = { kind: "refund" as const, outTradeNo: row.outTradeNo, transactionId: row.transactionId, outRefundNo };
    if (refund.refund_fee !== requested) mismatched.push({ ...base, field: "refundFee", wechat: requested, local: refund.refund_fee });
    if (row.refundState && row.refundState !== refund.status) mismatched.push({ ...base, field: "status", wechat: row.refundState, local: refund.status });
  }
  const local: Totals = { paymentCount: localPaid.length, paymentFee: sum(localPaid.map((o) => o.total_fee)), refundCount: 0, refundFee: 0 };
  for (const refund of localRefunds) {
    if (!acceptedByWechat(refund)) continue;
    local.refundCount++;
    if (refund.status !== "REFUNDCLOSE") local.refundFee += refund.refund_fee;
    if (seenRefunds.has(refund.out_refund_no)) continue;
    missingAtWechat.push({
      kind: "refund", outTradeNo: refund.out_trade_no, transactionId: refund.transaction_id, outRefundNo: refund.out_refund_no,
      localFee: refund.refund_fee, localStatus: refund.status,
    });
  }

  return {
    date,
    summary: {
      billExists: fetched !== null,
      wechat: { ...wechat, otherAppRows: allRows.length - rows.length },
      local,
      differences: missingLocally.length + missingAtWechat.length + mismatched.length + unreadable.length,
    },
    missingLocally,
    missingAtWechat,
    mismatched,
    unreadable,
  };
}

/**
 * The bill's unreadable lines, plus its summary line when 总交易单数 disagrees with the data lines
 * (read or not): rows lost or added in transit would otherwise pass unnoticed.
 */
function unreadableLines(bill: Bill): UnreadableBillLine[] {
  const lines = [...bill.unreadable];
  const held = bill.rows.length + bill.unreadable.length;
  if (bill.summary.tradeCount !== held) {
    lines.push({ line: bill.summary.line, reason: `the summary counts ${bill.summary.tradeCount} trades but the bill holds ${held} rows` });
  }
  return lines;
}

const isPaid = (order: OrderRow) => order.status === "PAID" || order.status === "REFUNDED";
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** A refund WeChat has (or had) on its side; a refund it refused never appears in a bill. */
const acceptedByWechat = (refund: RefundWithOrder) => refund.refund_id !== null || refund.status === "SUCCESS" || refund.status === "CHANGE";

/** 申请退款金额 (what was asked; 退款金额 is 0 for a closed refund), falling back to 退款金额. */
const requestedFen = (row: BillRow): number => row.requestedRefundFeeFen ?? row.refundFeeFen ?? 0;
