/** Orders: filter by status, open one by its out_trade_no, page through with the API's cursor. */
import { useState } from "preact/hooks";
import { useAction, useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href, navigate } from "../router";
import { ORDER_STATUSES, type Order, type OrderStatus } from "../types";
import { Alert, LoadState, Money, PageHeading, Pager, ProblemNote, SelectField } from "../ui/common";
import { OrderStatusBadge } from "../ui/status";
import { DataTable, type Column } from "../ui/table";

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
  const columns: Column<Order>[] = [
    { label: t("order.outTradeNo"), cell: (o) => <a href={href({ page: "order", outTradeNo: o.outTradeNo })} class="mono">{o.outTradeNo}</a> },
    { label: t("order.status"), cell: (o) => <OrderStatusBadge status={o.status} /> },
    { label: t("order.total"), num: true, cell: (o) => <Money fen={o.totalFee} /> },
    { label: t("order.refunded"), num: true, cell: (o) => <Money fen={o.refundedFee} /> },
    { label: t("order.description"), cell: (o) => o.description },
    { label: t("order.createdAt"), cell: (o) => formatTime(o.createdAt) },
    { label: t("order.paidAt"), cell: (o) => formatTime(o.paidAt) },
  ];

  return (
    <>
      <PageHeading>{t("orders.title")}</PageHeading>
      <div class="toolbar">
        <SelectField
          id="order-status"
          label={t("orders.statusFilter")}
          value={status}
          options={[["", t("orders.statusAll")], ...ORDER_STATUSES.map((s) => [s, t(`status.${s}`)] as const)]}
          onChange={(value) => {
            setStatus(value);
            setCursor(null);
          }}
        />
        <OrderLookup />
      </div>
      <LoadState loaded={list}>
        {(data) => (
          <>
            <DataTable caption={t("orders.caption")} columns={columns} rows={data.orders} rowKey={(o) => o.outTradeNo} empty={t("orders.empty")} busy={list.loading} />
            <Pager atFirst={cursor === null} nextCursor={data.nextCursor} onFirst={() => setCursor(null)} onNext={setCursor} />
          </>
        )}
      </LoadState>
    </>
  );
}

/** Exact lookup by out_trade_no (GET /admin/orders/:no), then the order's page. */
function OrderLookup() {
  const { t, api } = useApp();
  const [value, setValue] = useState("");
  const [searched, setSearched] = useState("");
  const lookup = useAction();

  function submit(event: Event) {
    event.preventDefault();
    const outTradeNo = value.trim();
    if (!outTradeNo) return;
    setSearched(outTradeNo);
    void lookup.run(async () => {
      await api.get(`/admin/orders/${encodeURIComponent(outTradeNo)}`);
      navigate({ page: "order", outTradeNo });
    });
  }

  return (
    <form class="lookup" role="search" onSubmit={submit}>
      <div class="field">
        <label for="order-lookup">{t("orders.lookupLabel")}</label>
        <input id="order-lookup" name="outTradeNo" class="mono" autocomplete="off" spellcheck={false} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </div>
      <button type="submit" disabled={lookup.busy}>
        {t("orders.lookup")}
      </button>
      {lookup.problem?.status === 404 ? <Alert text={t("orders.notFound", { outTradeNo: searched })} /> : <ProblemNote problem={lookup.problem} />}
    </form>
  );
}
