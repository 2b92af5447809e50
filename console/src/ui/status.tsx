/** Status badges: the code as the API says it, with a translated label where there is one. */
import { useApp } from "../context";
import type { OrderStatus } from "../types";
import { Badge } from "./common";

const ORDER_TONE: Record<OrderStatus, "good" | "bad" | "wait" | "plain"> = { NOTPAY: "wait", PAID: "good", CLOSED: "plain", PAYERROR: "bad", REFUNDED: "plain" };

export function OrderStatusBadge({ status }: { status: OrderStatus }) {
  const { t } = useApp();
  return <Badge value={`${t(`status.${status}`)} · ${status}`} tone={ORDER_TONE[status] ?? "plain"} />;
}

const TONES: Record<string, "good" | "bad" | "wait"> = {
  SUCCESS: "good",
  UPLOADED: "good",
  delivered: "good",
  applied: "good",
  PROCESSING: "wait",
  CHANGE: "wait",
  PENDING: "wait",
  pending: "wait",
  REFUNDCLOSE: "bad",
  FAILED: "bad",
  failed: "bad",
  anomaly: "bad",
};

/** Any other status code (refunds, shipments, webhooks, verdicts). */
export const StatusBadge = ({ value }: { value: string }) => <Badge value={value} tone={TONES[value] ?? "plain"} />;
