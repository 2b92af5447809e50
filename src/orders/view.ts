/** JSON shapes of the HTTP contract (README, "HTTP API"): rows in, API objects out. Money stays integer fen. */
import type { EventRow } from "../store/events";
import type { OrderItemRow, OrderRow } from "../store/orders";
import type { RefundRow } from "../store/refunds";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function orderJson(row: OrderRow, items: readonly OrderItemRow[]) {
  return {
    outTradeNo: row.out_trade_no,
    status: row.status,
    totalFee: row.total_fee,
    description: row.description,
    items: items.map((i) => ({ sku: i.sku, name: i.name, quantity: i.quantity, priceFen: i.price_fen })),
    attach: row.attach,
    createdAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
    paidAt: iso(row.paid_at),
    transactionId: row.transaction_id,
    refundedFee: row.refunded_fee,
  };
}

export function eventJson(row: EventRow) {
  return {
    id: row.id,
    kind: row.kind,
    outTradeNo: row.out_trade_no,
    transactionId: row.transaction_id,
    outRefundNo: row.out_refund_no,
    verdict: row.verdict,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as unknown),
    createdAt: iso(row.created_at),
  };
}

export function refundJson(row: RefundRow) {
  return {
    outRefundNo: row.out_refund_no,
    outTradeNo: row.out_trade_no,
    refundFee: row.refund_fee,
    status: row.status,
    reason: row.reason,
    createdAt: iso(row.created_at),
    succeededAt: iso(row.succeeded_at),
  };
}
