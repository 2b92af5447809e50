// POST /pay/downloadbill: the day's bill (Beijing date) of the simulated payments and refunds, as the
// backtick CSV rendered by sim/bill.ts, optionally gzipped; "No Bill Exist" for an empty day.
import { gzipSync } from "node:zlib";
import { renderBill } from "./bill.ts";
import type { BillRefund, BillTrade, BillType } from "./bill.ts";
import { present } from "./envelope.ts";
import { envelopeFail } from "./replies.ts";
import type { Ctx } from "./replies.ts";
import type { SimState } from "./state.ts";
import { beijingDate, isValidDate8 } from "./time.ts";

const BILL_TYPES = ["ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND"];

/** The bill rows of one Beijing date (yyyyMMdd), v2 and v3 orders alike: payments by their payment time, refunds by their request time. */
export function billRows(s: SimState, billDate: string): { trades: BillTrade[]; refunds: BillRefund[] } {
  const trades: BillTrade[] = [];
  const refunds: BillRefund[] = [];
  for (const order of s.orders.values()) {
    if (order.paidAt === null || order.transactionId === null || order.state === "PAYERROR") continue;
    const base = {
      appId: order.appId,
      mchId: order.mchId,
      deviceInfo: order.deviceInfo,
      transactionId: order.transactionId,
      outTradeNo: order.outTradeNo,
      openid: order.openid || s.openidFor("payer", order.appId),
      tradeType: order.tradeType,
      bankType: order.bankType,
      totalFee: order.totalFee,
      body: order.body,
      attach: order.attach,
    };
    if (beijingDate(order.paidAt) === billDate) trades.push({ ...base, time: order.paidAt });
    for (const r of order.refunds) {
      if (beijingDate(r.createdAt) !== billDate) continue;
      refunds.push({ ...base, requestTime: r.createdAt, successTime: r.successAt, refundId: r.refundId, outRefundNo: r.outRefundNo, refundFee: r.refundFee, status: r.status });
    }
  }
  return { trades, refunds };
}

/** POST /pay/downloadbill: checks bill_date / bill_type / tar_type, then answers the bill text (or gzip). */
export function downloadBill(s: SimState, ctx: Ctx): Response {
  const f = ctx.fields;
  const billDate = f.bill_date as string;
  if (!isValidDate8(billDate)) return envelopeFail("invalid bill_date");
  const billType = (present(f, "bill_type") ? f.bill_type : "ALL") as string;
  if (!BILL_TYPES.includes(billType)) return envelopeFail("invalid bill_type");
  if (present(f, "tar_type") && f.tar_type !== "GZIP") return envelopeFail("invalid tar_type: Only GZIP supported");
  const { trades, refunds } = billRows(s, billDate);
  const text = renderBill({ billType: billType as BillType, trades, refunds, bom: s.options.bill?.bom, eol: s.options.bill?.eol });
  if (text === null) return envelopeFail("No Bill Exist", { error_code: "20002" });
  if (f.tar_type === "GZIP") {
    return new Response(new Uint8Array(gzipSync(Buffer.from(text, "utf8"))), { status: 200, headers: { "Content-Type": "application/x-gzip" } });
  }
  return new Response(text, { status: 200, headers: { "Content-Type": "text/plain;charset=utf-8" } });
}
