/** Orders: filter by status, open one by its out_trade_no, page through with the API's cursor. */
import { useState } from "preact/hooks";
import { ApiProblem } from "../api";
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href, navigate } from "../router";
import { ORDER_STATUSES, type Order, type OrderStatus } from "../types";
import { EmptyRow, Loading, Money, PageHeading, Pager, ProblemNote } from "../ui/common";
import { OrderStatusBadge } from "../ui/status";

const PAGE_SIZE = 20;

export function OrdersPage() {
  const { t, api } = useApp();
  const [status, setStatus] = useState<OrderStatus | "">("");
  const [cursor, setCursor] = useState<string | null>(null);
  const list = useLoad(() => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) query.set("status", status);
    if (cursor) query.set("cursor", cursor);
    return api.get<{ orders: Order[]; nextCursor: string | null }>(`/admin/orders?${query}`);
  }, [status, cursor]);

  return (
    <>
      <PageHeading>{t("orders.title")}</PageHeading>
      <div class="toolbar">
        <div class="field">
          <label for="order-status">{t("orders.statusFilter")}</label>
          <select
            id="order-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value as OrderStatus | "");
              setCursor(null);
            }}
          >
            <option value="">{t("orders.statusAll")}</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </div>
        <OrderLookup />
      </div>
      <ProblemNote problem={list.problem} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        <>
          <table class="table" aria-busy={list.loading}>
            <caption>{t("orders.caption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("order.outTradeNo")}</th>
                <th scope="col">{t("order.status")}</th>
                <th scope="col" class="num">{t("order.total")}</th>
                <th scope="col" class="num">{t("order.refunded")}</th>
                <th scope="col">{t("order.description")}</th>
                <th scope="col">{t("order.createdAt")}</th>
                <th scope="col">{t("order.paidAt")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.orders.length === 0 ? <EmptyRow columns={7} text={t("orders.empty")} /> : null}
              {list.data.orders.map((order) => (
                <tr key={order.outTradeNo}>
                  <td>
                    <a href={href({ page: "order", outTradeNo: order.outTradeNo })} class="mono">
                      {order.outTradeNo}
                    </a>
                  </td>
                  <td>
                    <OrderStatusBadge status={order.status} />
                  </td>
                  <td class="num">
                    <Money fen={order.totalFee} />
                  </td>
                  <td class="num">
                    <Money fen={order.refundedFee} />
                  </td>
                  <td>{order.description}</td>
                  <td>{formatTime(order.createdAt)}</td>
                  <td>{formatTime(order.paidAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager atFirst={cursor === null} nextCursor={list.data.nextCursor} onFirst={() => setCursor(null)} onNext={setCursor} />
        </>
      ) : null}
    </>
  );
}

/** Exact lookup by out_trade_no (GET /admin/orders/:no), then the order's page. */
function OrderLookup() {
  const { t, api } = useApp();
  const [value, setValue] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const outTradeNo = value.trim();
    if (!outTradeNo || busy) return;
    setBusy(true);
    setMessage(null);
    try {
      await api.get(`/admin/orders/${encodeURIComponent(outTradeNo)}`);
      navigate({ page: "order", outTradeNo });
    } catch (error) {
      if (error instanceof ApiProblem) setMessage(error.status === 404 ? t("orders.notFound", { outTradeNo }) : `${error.message} (${error.code})`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="lookup" role="search" onSubmit={submit}>
      <div class="field">
        <label for="order-lookup">{t("orders.lookupLabel")}</label>
        <input id="order-lookup" name="outTradeNo" class="mono" autocomplete="off" spellcheck={false} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </div>
      <button type="submit" disabled={busy}>
        {t("orders.lookup")}
      </button>
      {message ? (
        <p role="alert" class="problem">
          {message}
        </p>
      ) : null}
    </form>
  );
}
