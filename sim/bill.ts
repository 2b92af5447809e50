// downloadbill rendering (pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=9_6): backtick-prefixed CSV in yuan, 2018+ column layouts.
// Money is integer fen throughout; yuan strings are produced with integer math, never floats.
import { beijingDashed } from "./time.ts";

export type BillType = "ALL" | "SUCCESS" | "REFUND" | "RECHARGE_REFUND";

export interface BillTrade {
  /** payment time (time_end), epoch ms */
  time: number;
  appId: string;
  mchId: string;
  deviceInfo: string;
  transactionId: string;
  outTradeNo: string;
  openid: string;
  tradeType: string;
  bankType: string;
  totalFee: number;
  body: string;
  attach: string;
}

export interface BillRefund extends Omit<BillTrade, "time"> {
  /** refund request time, epoch ms (the row's 交易时间 and 退款申请时间) */
  requestTime: number;
  successTime: number | null;
  refundId: string;
  outRefundNo: string;
  refundFee: number;
  status: string;
}

/** Fee rate used for 手续费: 0.60% (the common rate), rounded half-up to the fen. */
export const FEE_RATE_TEXT = "0.60%";
export function feeFen(amountFen: number): number {
  return Math.floor((amountFen * 6 + 500) / 1000);
}

/** Integer fen → yuan string with 2 (or more, zero-padded) decimals, e.g. 1 → "0.01", -205 → "-2.05". */
export function fenToYuan(fen: number, decimals = 2): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError("fen must be a safe integer");
  const neg = fen < 0;
  const a = Math.abs(fen);
  const s = `${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}${"0".repeat(Math.max(0, decimals - 2))}`;
  return neg ? `-${s}` : s;
}

const HEAD_START = ["交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额"];
export const BILL_HEADERS: Record<"ALL" | "SUCCESS" | "REFUND", string[]> = {
  ALL: [...HEAD_START, "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"],
  SUCCESS: [...HEAD_START, "商品名称", "商户数据包", "手续费", "费率", "订单金额", "费率备注"],
  REFUND: [...HEAD_START, "退款申请时间", "退款成功时间", "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"],
};
export const SUMMARY_HEADER = ["总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额"];

export interface RenderOptions {
  billType: BillType;
  trades: BillTrade[];
  refunds: BillRefund[];
  /** prefix a UTF-8 BOM (seen in real files); default true */
  bom?: boolean;
  /** line ending; default "\r\n" (seen in real files) */
  eol?: string;
}

/** Render the bill, or null when it has no rows (→ "No Bill Exist"). */
export function renderBill(o: RenderOptions): string | null {
  if (o.billType === "RECHARGE_REFUND") return null; // the simulator has no recharge coupons
  const layout = o.billType;
  const trades = layout === "REFUND" ? [] : [...o.trades].sort((a, b) => a.time - b.time);
  const refunds = layout === "SUCCESS" ? [] : [...o.refunds].sort((a, b) => a.requestTime - b.requestTime);
  if (trades.length + refunds.length === 0) return null;

  let settle = 0, refunded = 0, fees = 0, orderTotal = 0, requested = 0;
  const rows: string[][] = [];
  const start = (t: Omit<BillTrade, "time">, time: number, state: string, settlement: number) => [
    beijingDashed(time), t.appId, t.mchId, "0", t.deviceInfo, t.transactionId, t.outTradeNo, t.openid, t.tradeType, state, t.bankType, "CNY", fenToYuan(settlement), "0.00",
  ];
  for (const t of trades) {
    const fee = feeFen(t.totalFee);
    settle += t.totalFee; fees += fee; orderTotal += t.totalFee;
    const row = start(t, t.time, "SUCCESS", t.totalFee);
    if (layout === "ALL") row.push("0", "0", "0.00", "0.00", "", "");
    row.push(t.body, t.attach, fenToYuan(fee, 5), FEE_RATE_TEXT, fenToYuan(t.totalFee));
    if (layout === "ALL") row.push("0.00");
    row.push("");
    rows.push(row);
  }
  for (const r of refunds) {
    const amount = r.status === "REFUNDCLOSE" ? 0 : r.refundFee; // closed refunds moved no money
    const fee = -feeFen(amount);
    refunded += amount; fees += fee; requested += r.refundFee;
    const row = start(r, r.requestTime, "REFUND", 0);
    if (layout === "REFUND") row.push(beijingDashed(r.requestTime), r.successTime === null ? "" : beijingDashed(r.successTime));
    row.push(r.refundId, r.outRefundNo, fenToYuan(amount), "0.00", "ORIGINAL", r.status, r.body, r.attach, fenToYuan(fee, 5), FEE_RATE_TEXT, "0.00", fenToYuan(r.refundFee), "");
    rows.push(row);
  }
  const eol = o.eol ?? "\r\n";
  const tick = (cells: string[]) => cells.map((c) => "`" + c).join(",");
  const lines = [
    BILL_HEADERS[layout].join(","),
    ...rows.map(tick),
    SUMMARY_HEADER.join(","),
    tick([String(rows.length), fenToYuan(settle), fenToYuan(refunded), "0.00", fenToYuan(fees, 5), fenToYuan(orderTotal), fenToYuan(requested)]),
  ];
  return ((o.bom ?? true) ? "\uFEFF" : "") + lines.join(eol) + eol;
}
