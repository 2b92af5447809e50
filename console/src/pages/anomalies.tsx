/** Anomalies: what WeChat signed but we did not expect (GET /admin/events?verdict=anomaly), newest first. */
import { useState } from "preact/hooks";
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import type { EventEntry } from "../types";
import { EmptyRow, Loading, PageHeading, Pager, ProblemNote, summarise } from "../ui/common";

export function AnomaliesPage() {
  const { t, api } = useApp();
  const [cursor, setCursor] = useState<string | null>(null);
  const list = useLoad(() => {
    const query = new URLSearchParams({ verdict: "anomaly", limit: "20" });
    if (cursor) query.set("cursor", cursor);
    return api.get<{ events: EventEntry[]; nextCursor: string | null }>(`/admin/events?${query}`);
  }, [cursor]);
  return (
    <>
      <PageHeading>{t("anomalies.title")}</PageHeading>
      <p class="hint">{t("anomalies.help")}</p>
      <ProblemNote problem={list.problem} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        <>
          <table class="table" aria-busy={list.loading}>
            <caption>{t("anomalies.caption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("event.time")}</th>
                <th scope="col">{t("event.kind")}</th>
                <th scope="col">{t("order.outTradeNo")}</th>
                <th scope="col">{t("order.transactionId")}</th>
                <th scope="col">{t("refund.outRefundNo")}</th>
                <th scope="col">{t("event.detail")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.events.length === 0 ? <EmptyRow columns={6} text={t("anomalies.empty")} /> : null}
              {list.data.events.map((event) => (
                <tr key={event.id}>
                  <td class="nowrap">{formatTime(event.createdAt)}</td>
                  <td class="mono nowrap">{event.kind}</td>
                  <td class="mono">{event.outTradeNo ? <a href={href({ page: "order", outTradeNo: event.outTradeNo })}>{event.outTradeNo}</a> : "–"}</td>
                  <td class="mono">{event.transactionId ?? "–"}</td>
                  <td class="mono">{event.outRefundNo ?? "–"}</td>
                  <td class="detail">{summarise(event.detail)}</td>
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
