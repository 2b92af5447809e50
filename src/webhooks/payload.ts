/**
 * The body of a merchant event: `{"id","type","createdAt","data":{order?, refund?, anomaly?}}`, the
 * objects in the same JSON shapes as the HTTP API (orders/view.ts), built from the snapshot the
 * change wrote, so every delivery of one event carries the same bytes.
 */
import { eventJson, orderJson, refundJson, shipmentJson } from "../orders/view";
import type { EventRow } from "../store/events";
import type { MerchantEventRow } from "../store/merchant-events";
import type { OrderItemRow, OrderRow } from "../store/orders";
import type { RefundRow } from "../store/refunds";
import type { ShipmentRow } from "../store/shipments";

interface Snapshot {
  order?: (OrderRow & { items: OrderItemRow[] }) | null;
  refund?: RefundRow | null;
  anomaly?: EventRow | null;
  /** The shipment row with its items as JSON (not as the column's text). */
  shipment?: (Omit<ShipmentRow, "items"> & { items: unknown[] }) | null;
}

/** The event as the merchant receives it (data keys present only when the event has them). */
export function merchantEventPayload(row: MerchantEventRow) {
  const snapshot = JSON.parse(row.snapshot) as Snapshot;
  const data: Record<string, unknown> = {};
  if (snapshot.order) data.order = orderJson(snapshot.order, snapshot.order.items);
  if (snapshot.refund) data.refund = refundJson(snapshot.refund);
  if (snapshot.shipment) data.shipment = shipmentJson({ ...snapshot.shipment, items: JSON.stringify(snapshot.shipment.items) });
  if (snapshot.anomaly) data.anomaly = eventJson(snapshot.anomaly);
  return { id: row.id, type: row.type, createdAt: new Date(row.created_at).toISOString(), data };
}

/** The exact body that is signed and sent. */
export const merchantEventBody = (row: MerchantEventRow): string => JSON.stringify(merchantEventPayload(row));
