/**
 * One order: items and totals, the refundable remainder, refund and shipment actions (PAID orders),
 * the event timeline (with who did it, for admin actions), refunds, shipments and the merchant events
 * with their delivery attempts on demand. After an action the order is loaded again.
 */
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import type { EventEntry, OrderItem, OrderView, Refund, Shipment } from "../types";
import { Alert, Facts, Loading, Money, PageHeading, ProblemNote, Section, summarise, type Fact } from "../ui/common";
import { OrderStatusBadge, StatusBadge } from "../ui/status";
import { DataTable, type Column } from "../ui/table";
import { WebhookTable } from "../ui/webhook-table";
import { RefundForm } from "./refund-form";
import { ShipmentForm } from "./shipment-form";

/** Refund statuses whose amount is no longer refundable: done, or held while WeChat works on it. */
const HOLDS_AMOUNT = new Set(["SUCCESS", "PROCESSING", "CHANGE"]);

/** What can still be refunded: the total less every refund that succeeded or is in flight (as the API checks it). */
const refundableRemainder = (totalFee: number, refunds: readonly Refund[]) =>
  Math.max(0, totalFee - refunds.filter((r) => HOLDS_AMOUNT.has(r.status)).reduce((sum, r) => sum + r.refundFee, 0));

export function OrderPage({ outTradeNo }: { outTradeNo: string }) {
  const { t, api } = useApp();
  const view = useLoad(() => api.get<OrderView>(`/admin/orders/${encodeURIComponent(outTradeNo)}`), [outTradeNo]);
  const data = view.data;
  return (
    <>
      <p class="crumbs">
        <a href={href({ page: "orders" })}>{t("order.back")}</a>
      </p>
      <PageHeading>
        {t("order.title")} <span class="mono">{outTradeNo}</span>
      </PageHeading>
      {view.problem?.status === 404 ? <Alert text={t("orders.notFound", { outTradeNo })} /> : <ProblemNote problem={view.problem} />}
      {data ? (
        <p>
          <button type="button" onClick={view.reload} disabled={view.loading}>
            {view.loading ? t("common.loading") : t("order.refresh")}
          </button>
        </p>
      ) : null}
      {view.loading && !data ? <Loading /> : null}
      {data ? <OrderBody view={data} busy={view.loading} reload={view.reload} /> : null}
    </>
  );
}

function OrderBody({ view, busy, reload }: { view: OrderView; busy: boolean; reload: () => void }) {
  const { t } = useApp();
  const { order, refunds, events, shipments, webhooks } = view;
  const remainder = refundableRemainder(order.totalFee, refunds);
  const inFlight = refunds.filter((r) => r.status === "PROCESSING" || r.status === "CHANGE").reduce((sum, r) => sum + r.refundFee, 0);
  const facts: Fact[] = [
    [t("order.status"), <OrderStatusBadge status={order.status} />],
    [t("order.total"), <Money fen={order.totalFee} />],
    [t("order.refunded"), <Money fen={order.refundedFee} />],
    [t("order.refundInFlight"), <Money fen={inFlight} />],
    [t("order.remainder"), <Money fen={remainder} />, "remainder"],
    [t("order.description"), order.description],
    [t("order.transactionId"), <span class="mono">{order.transactionId ?? "–"}</span>],
    [t("order.createdAt"), formatTime(order.createdAt)],
    [t("order.paidAt"), formatTime(order.paidAt)],
    [t("order.settledAt"), formatTime(order.settledAt)],
    [t("order.attach"), order.attach ?? "–"],
  ];
  const itemColumns: Column<OrderItem>[] = [
    { label: t("product.sku"), class: "mono", cell: (i) => i.sku },
    { label: t("product.name"), cell: (i) => i.name },
    { label: t("order.quantity"), num: true, cell: (i) => i.quantity },
    { label: t("product.price"), num: true, cell: (i) => <Money fen={i.priceFen} /> },
    { label: t("order.lineTotal"), num: true, cell: (i) => <Money fen={i.priceFen * i.quantity} /> },
  ];
  const eventColumns: Column<EventEntry>[] = [
    { label: t("event.time"), class: "nowrap", cell: (e) => formatTime(e.createdAt) },
    { label: t("event.kind"), class: "mono nowrap", cell: (e) => e.kind },
    { label: t("event.verdict"), cell: (e) => <StatusBadge value={e.verdict} /> },
    { label: t("event.actor"), headClass: "nowrap", cell: (e) => e.actor ?? "–" },
    { label: t("event.detail"), class: "detail", cell: (e) => summarise(e.detail) },
  ];
  const refundColumns: Column<Refund>[] = [
    { label: t("refund.outRefundNo"), class: "mono", cell: (r) => r.outRefundNo },
    { label: t("refund.amount"), num: true, cell: (r) => <Money fen={r.refundFee} /> },
    { label: t("refund.status"), cell: (r) => <StatusBadge value={r.status} /> },
    { label: t("refund.reason"), cell: (r) => r.reason ?? "–" },
    { label: t("refund.createdAt"), cell: (r) => formatTime(r.createdAt) },
    { label: t("refund.succeededAt"), cell: (r) => formatTime(r.succeededAt) },
  ];
  const shipmentColumns: Column<Shipment>[] = [
    { label: t("shipment.logisticsType"), cell: (s) => t(`logistics.${s.logisticsType}`) },
    {
      label: t("shipment.items"),
      cell: (s) =>
        s.items.map((item, i) => (
          <div key={i}>
            {item.itemDesc}
            {item.trackingNo ? ` · ${item.expressCompany ?? ""} ${item.trackingNo}` : ""}
          </div>
        )),
    },
    { label: t("shipment.status"), cell: (s) => <StatusBadge value={s.status} /> },
    { label: t("shipment.errCode"), cell: (s) => s.errCode ?? "–" },
    { label: t("shipment.createdAt"), cell: (s) => formatTime(s.createdAt) },
    { label: t("shipment.uploadedAt"), cell: (s) => formatTime(s.uploadedAt) },
  ];
  const timeline = [...events].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
  return (
    <div aria-busy={busy}>
      <Section id="summary" title={t("order.summary")}>
        <Facts items={facts} />
      </Section>

      <Section id="items" title={t("order.items")}>
        <DataTable
          caption={t("order.itemsCaption")}
          columns={itemColumns}
          rows={order.items}
          rowKey={(i) => i.sku}
          empty="–"
          foot={
            <tfoot>
              <tr>
                <th scope="row" colSpan={4}>
                  {t("order.total")}
                </th>
                <td class="num">
                  <Money fen={order.totalFee} />
                </td>
              </tr>
            </tfoot>
          }
        />
      </Section>

      {order.status === "PAID" ? (
        <div class="actions-grid">
          <RefundForm outTradeNo={order.outTradeNo} remainder={remainder} onDone={reload} />
          <ShipmentForm outTradeNo={order.outTradeNo} onDone={reload} />
        </div>
      ) : (
        <p class="hint">{t("order.noActions")}</p>
      )}

      <Section id="timeline" title={t("order.timeline")}>
        <DataTable caption={t("order.timelineCaption")} columns={eventColumns} rows={timeline} rowKey={(e) => e.id} empty={t("order.noEvents")} />
      </Section>
      <Section id="refunds" title={t("order.refunds")}>
        <DataTable caption={t("order.refundsCaption")} columns={refundColumns} rows={refunds} rowKey={(r) => r.outRefundNo} empty={t("order.noRefunds")} />
      </Section>
      <Section id="shipments" title={t("order.shipments")}>
        <DataTable caption={t("order.shipmentsCaption")} columns={shipmentColumns} rows={shipments} rowKey={(s) => s.id} empty={t("order.noShipments")} />
      </Section>
      <Section id="webhooks" title={t("order.webhooks")}>
        <WebhookTable events={webhooks} caption={t("order.webhooksCaption")} />
      </Section>
    </div>
  );
}
