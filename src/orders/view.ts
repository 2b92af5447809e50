/** JSON shapes of the HTTP contract (README, "HTTP API"): rows in, API objects out. Money stays integer fen. */
import type { EventRow } from "../store/events";
import type { OrderItemRow, OrderRow } from "../store/orders";
import type { ProductRow } from "../store/products";
import type { RefundRow } from "../store/refunds";
import type { ShipmentRow } from "../store/shipments";

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
    settledAt: iso(row.settled_at ?? null),
    /** The WeChat Pay API the order was placed with (events written before migration 0007 carry none: v2). */
    api: row.api ?? "v2",
  };
}

/** A product as the admin API shows it (`PUT /admin/products/:sku`, `GET /admin/products`). */
export function productJson(row: ProductRow) {
  return { sku: row.sku, name: row.name, priceFen: row.price_fen, active: row.active === 1, fulfilment: row.fulfilment };
}

export function eventJson(row: EventRow) {
  return {
    id: row.id,
    kind: row.kind,
    outTradeNo: row.out_trade_no,
    transactionId: row.transaction_id,
    outRefundNo: row.out_refund_no,
    verdict: row.verdict,
    /** Who made it, for admin actions ('token' or the Cloudflare Access email); null for every other event. */
    actor: row.actor ?? null,
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

export function shipmentJson(row: ShipmentRow) {
  return {
    id: row.id,
    outTradeNo: row.out_trade_no,
    logisticsType: row.logistics_type,
    items: JSON.parse(row.items) as unknown[],
    allDelivered: row.all_delivered === null ? null : row.all_delivered === 1,
    status: row.status,
    errCode: row.err_code,
    uploadedAt: iso(row.uploaded_at),
    createdAt: iso(row.created_at),
  };
}
