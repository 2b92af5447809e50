/**
 * One order: items and totals, the refundable remainder, refund and shipment actions (PAID orders),
 * the event timeline (with who did it, for admin actions), refunds, shipments and the merchant events
 * with their delivery attempts on demand. After an action the order is loaded again.
 */
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import type { OrderView, Refund } from "../types";
import { EmptyRow, Loading, Money, PageHeading, ProblemNote, Section, summarise } from "../ui/common";
import { OrderStatusBadge, StatusBadge } from "../ui/status";
import { WebhookTable } from "../ui/webhook-table";
import { RefundForm } from "./refund-form";
import { ShipmentForm } from "./shipment-form";

/** Refund statuses whose amount is no longer refundable: done, or held while WeChat works on it. */
const HOLDS_AMOUNT = new Set(["SUCCESS", "PROCESSING", "CHANGE"]);

/** What can still be refunded: the total less every refund that succeeded or is in flight (as the API checks it). */
export const refundableRemainder = (totalFee: number, refunds: readonly Refund[]) =>
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
      {view.problem?.status === 404 ? (
        <p role="alert" class="problem">
          {t("orders.notFound", { outTradeNo })}
        </p>
      ) : (
        <ProblemNote problem={view.problem} />
      )}
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
  return (
    <div aria-busy={busy}>
      <Section id="summary" title={t("order.summary")}>
        <dl class="facts">
          <dt>{t("order.status")}</dt>
          <dd>
            <OrderStatusBadge status={order.status} />
          </dd>
          <dt>{t("order.total")}</dt>
          <dd>
            <Money fen={order.totalFee} />
          </dd>
          <dt>{t("order.refunded")}</dt>
          <dd>
            <Money fen={order.refundedFee} />
          </dd>
          <dt>{t("order.refundInFlight")}</dt>
          <dd>
            <Money fen={inFlight} />
          </dd>
          <dt>{t("order.remainder")}</dt>
          <dd data-testid="remainder">
            <Money fen={remainder} />
          </dd>
          <dt>{t("order.description")}</dt>
          <dd>{order.description}</dd>
          <dt>{t("order.transactionId")}</dt>
          <dd class="mono">{order.transactionId ?? "–"}</dd>
          <dt>{t("order.createdAt")}</dt>
          <dd>{formatTime(order.createdAt)}</dd>
          <dt>{t("order.paidAt")}</dt>
          <dd>{formatTime(order.paidAt)}</dd>
          <dt>{t("order.settledAt")}</dt>
          <dd>{formatTime(order.settledAt)}</dd>
          <dt>{t("order.attach")}</dt>
          <dd>{order.attach ?? "–"}</dd>
        </dl>
      </Section>

      <Section id="items" title={t("order.items")}>
        <table class="table">
          <caption>{t("order.itemsCaption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("product.sku")}</th>
              <th scope="col">{t("product.name")}</th>
              <th scope="col" class="num">{t("order.quantity")}</th>
              <th scope="col" class="num">{t("product.price")}</th>
              <th scope="col" class="num">{t("order.lineTotal")}</th>
            </tr>
          </thead>
          <tbody>
            {order.items.map((item) => (
              <tr key={item.sku}>
                <td class="mono">{item.sku}</td>
                <td>{item.name}</td>
                <td class="num">{item.quantity}</td>
                <td class="num">
                  <Money fen={item.priceFen} />
                </td>
                <td class="num">
                  <Money fen={item.priceFen * item.quantity} />
                </td>
              </tr>
            ))}
          </tbody>
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
        </table>
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
        <table class="table">
          <caption>{t("order.timelineCaption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("event.time")}</th>
              <th scope="col">{t("event.kind")}</th>
              <th scope="col">{t("event.verdict")}</th>
              <th scope="col" class="nowrap">{t("event.actor")}</th>
              <th scope="col">{t("event.detail")}</th>
            </tr>
          </thead>
          <tbody>
            {events.length === 0 ? <EmptyRow columns={5} text={t("order.noEvents")} /> : null}
            {[...events]
              .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id)
              .map((event) => (
                <tr key={event.id}>
                  <td class="nowrap">{formatTime(event.createdAt)}</td>
                  <td class="mono nowrap">{event.kind}</td>
                  <td>
                    <StatusBadge value={event.verdict} />
                  </td>
                  <td>{event.actor ?? "–"}</td>
                  <td class="detail">{summarise(event.detail)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </Section>

      <Section id="refunds" title={t("order.refunds")}>
        <table class="table">
          <caption>{t("order.refundsCaption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("refund.outRefundNo")}</th>
              <th scope="col" class="num">{t("refund.amount")}</th>
              <th scope="col">{t("refund.status")}</th>
              <th scope="col">{t("refund.reason")}</th>
              <th scope="col">{t("refund.createdAt")}</th>
              <th scope="col">{t("refund.succeededAt")}</th>
            </tr>
          </thead>
          <tbody>
            {refunds.length === 0 ? <EmptyRow columns={6} text={t("order.noRefunds")} /> : null}
            {refunds.map((refund) => (
              <tr key={refund.outRefundNo}>
                <td class="mono">{refund.outRefundNo}</td>
                <td class="num">
                  <Money fen={refund.refundFee} />
                </td>
                <td>
                  <StatusBadge value={refund.status} />
                </td>
                <td>{refund.reason ?? "–"}</td>
                <td>{formatTime(refund.createdAt)}</td>
                <td>{formatTime(refund.succeededAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>

      <Section id="shipments" title={t("order.shipments")}>
        <table class="table">
          <caption>{t("order.shipmentsCaption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("shipment.logisticsType")}</th>
              <th scope="col">{t("shipment.items")}</th>
              <th scope="col">{t("shipment.status")}</th>
              <th scope="col">{t("shipment.errCode")}</th>
              <th scope="col">{t("shipment.createdAt")}</th>
              <th scope="col">{t("shipment.uploadedAt")}</th>
            </tr>
          </thead>
          <tbody>
            {shipments.length === 0 ? <EmptyRow columns={6} text={t("order.noShipments")} /> : null}
            {shipments.map((shipment) => (
              <tr key={shipment.id}>
                <td>{t(`logistics.${shipment.logisticsType}`)}</td>
                <td>
                  {shipment.items.map((item, i) => (
                    <div key={i}>
                      {item.itemDesc}
                      {item.trackingNo ? ` · ${item.expressCompany ?? ""} ${item.trackingNo}` : ""}
                    </div>
                  ))}
                </td>
                <td>
                  <StatusBadge value={shipment.status} />
                </td>
                <td>{shipment.errCode ?? "–"}</td>
                <td>{formatTime(shipment.createdAt)}</td>
                <td>{formatTime(shipment.uploadedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>

      <Section id="webhooks" title={t("order.webhooks")}>
        <WebhookTable events={webhooks} caption={t("order.webhooksCaption")} />
      </Section>
    </div>
  );
}
