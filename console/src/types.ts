/** The admin API's JSON shapes as the console reads them (README, "HTTP API"). Money is integer fen. */

export type OrderStatus = "NOTPAY" | "PAID" | "CLOSED" | "PAYERROR" | "REFUNDED";
export const ORDER_STATUSES: readonly OrderStatus[] = ["NOTPAY", "PAID", "CLOSED", "PAYERROR", "REFUNDED"];

export interface OrderItem {
  sku: string;
  name: string;
  quantity: number;
  priceFen: number;
}

export interface Order {
  outTradeNo: string;
  status: OrderStatus;
  totalFee: number;
  description: string;
  items: OrderItem[];
  attach: string | null;
  createdAt: string;
  expiresAt: string | null;
  paidAt: string | null;
  transactionId: string | null;
  refundedFee: number;
  settledAt?: string | null;
}

export interface Refund {
  outRefundNo: string;
  outTradeNo: string;
  refundFee: number;
  status: string;
  reason: string | null;
  createdAt: string;
  succeededAt: string | null;
}

/** One row of the event log; `actor` is set on the admin's own actions (who did it). */
export interface EventEntry {
  id: number;
  kind: string;
  outTradeNo: string | null;
  transactionId: string | null;
  outRefundNo: string | null;
  verdict: "applied" | "anomaly";
  detail: unknown;
  createdAt: string;
  actor?: string | null;
}

export interface ShipmentItem {
  trackingNo?: string;
  expressCompany?: string;
  itemDesc: string;
  contact?: { consignorContact?: string; receiverContact?: string };
}

export type LogisticsType = "express" | "same_city" | "virtual" | "pickup";
export const LOGISTICS_TYPES: readonly LogisticsType[] = ["express", "same_city", "virtual", "pickup"];

export interface Shipment {
  id: string;
  outTradeNo: string;
  logisticsType: LogisticsType;
  items: ShipmentItem[];
  allDelivered: boolean | null;
  status: string;
  errCode: number | null;
  uploadedAt: string | null;
  createdAt: string;
}

export type WebhookStatus = "pending" | "delivered" | "failed";
export const WEBHOOK_STATUSES: readonly WebhookStatus[] = ["pending", "delivered", "failed"];
export const WEBHOOK_TYPES = [
  "order.paid",
  "order.closed",
  "order.refunded",
  "refund.succeeded",
  "refund.closed",
  "shipment.uploaded",
  "shipment.failed",
  "order.settled",
  "anomaly.recorded",
] as const;

export interface WebhookSummary {
  id: string;
  type: string;
  createdAt: string;
  status: WebhookStatus;
  attempts: number;
  lastAttemptAt: string | null;
  lastStatus: number | null;
}

export interface WebhookEvent extends WebhookSummary {
  outTradeNo: string | null;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
  payload: unknown;
}

export interface WebhookAttempt {
  attemptedAt: string;
  statusCode: number | null;
  latencyMs: number | null;
  errorClass: string | null;
  via: string;
}

export interface OrderView {
  order: Order;
  refunds: Refund[];
  events: EventEntry[];
  webhooks: WebhookSummary[];
  shipments: Shipment[];
}


export interface Product {
  sku: string;
  name: string;
  priceFen: number;
  active: boolean;
  fulfilment: "physical" | "virtual";
}

export interface ReconcileTotals {
  paymentCount: number;
  paymentFee: number;
  refundCount: number;
  refundFee: number;
}

export interface BillReport {
  date: string;
  summary: { billExists: boolean; wechat: ReconcileTotals & { otherAppRows: number }; local: ReconcileTotals; differences: number };
  missingLocally: { kind: string; outTradeNo: string; transactionId: string; outRefundNo: string | null; wechatFee: number; wechatStatus: string; localStatus: string | null }[];
  missingAtWechat: { kind: string; outTradeNo: string; transactionId: string | null; outRefundNo: string | null; localFee: number; localStatus: string }[];
  mismatched: { kind: string; outTradeNo: string; transactionId: string; outRefundNo: string | null; field: string; wechat: number | string; local: number | string | null }[];
  unreadable: { line: number; reason: string }[];
}

/** POST /admin/reconcile: what the job did. */
export type ReconcileSummary = Record<string, number>;

/** GET /admin/session: who is signed in, and how. */
export interface Session {
  actor: string;
  via: "token" | "access";
}
