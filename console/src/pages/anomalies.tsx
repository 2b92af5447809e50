/** Anomalies: what WeChat signed but we did not expect (GET /admin/events?verdict=anomaly), newest first. */
import { useState } from "preact/hooks";
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import type { EventEntry } from "../types";
import { LoadState, PageHeading, Pager, summarise } from "../ui/common";
import { DataTable, type Column } from "../ui/table";

export function AnomaliesPage() {
  const { t, api } = useApp();
  const [cursor, setCursor] = useState<string | null>(null);
  const list = useLoad(() => {
    const query = new URLSearchParams({ verdict: "anomaly", limit: "20" });
    if (cursor) query.set("cursor", cursor);
    return api.get<{ events: EventEntry[]; nextCursor: string | null }>(`/admin/events?${query}`);
  }, [cursor]);
  const columns: Column<EventEntry>[] = [
    { label: t("event.time"), class: "nowrap", cell: (e) => formatTime(e.createdAt) },
    { label: t("event.kind"), class: "mono nowrap", cell: (e) => e.kind },
    { label: t("order.outTradeNo"), class: "mono", cell: (e) => (e.outTradeNo ? <a href={href({ page: "order", outTradeNo: e.outTradeNo })}>{e.outTradeNo}</a> : "–") },
    { label: t("order.transactionId"), class: "mono", cell: (e) => e.transactionId ?? "–" },
    { label: t("refund.outRefundNo"), class: "mono", cell: (e) => e.outRefundNo ?? "–" },
    { label: t("event.detail"), class: "detail", cell: (e) => summarise(e.detail) },
  ];
  return (
    <>
      <PageHeading>{t("anomalies.title")}</PageHeading>
      <p class="hint">{t("anomalies.help")}</p>
      <LoadState loaded={list}>
        {(data) => (
          <>
            <DataTable caption={t("anomalies.caption")} columns={columns} rows={data.events} rowKey={(e) => e.id} empty={t("anomalies.empty")} busy={list.loading} />
            <Pager atFirst={cursor === null} nextCursor={data.nextCursor} onFirst={() => setCursor(null)} onNext={setCursor} />
          </>
        )}
      </LoadState>
    </>
  );
}
