/** Merchant events in a table (an order's, or a page of them) and delivery attempts. */
import { useState } from "preact/hooks";
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import type { WebhookAttempt, WebhookEvent, WebhookSummary } from "../types";
import { EmptyRow, LoadState } from "./common";
import { StatusBadge } from "./status";
import { DataTable, type Column } from "./table";

/** Merchant events with their delivery status; each one's attempts load on demand. */
export function WebhookTable({ events, caption }: { events: readonly WebhookSummary[]; caption: string }) {
  const { t } = useApp();
  const [open, setOpen] = useState<string | null>(null);
  return (
    <table class="table">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t("webhook.id")}</th>
          <th scope="col">{t("webhook.type")}</th>
          <th scope="col">{t("webhook.status")}</th>
          <th scope="col" class="num">{t("webhook.attempts")}</th>
          <th scope="col">{t("webhook.lastStatus")}</th>
          <th scope="col">{t("webhook.createdAt")}</th>
          <th scope="col">{t("webhook.more")}</th>
        </tr>
      </thead>
      <tbody>
        {events.length === 0 ? <EmptyRow columns={7} text={t("webhooks.empty")} /> : null}
        {events.map((event) => (
          <WebhookRow key={event.id} event={event} open={open === event.id} onToggle={() => setOpen(open === event.id ? null : event.id)} />
        ))}
      </tbody>
    </table>
  );
}

function WebhookRow({ event, open, onToggle }: { event: WebhookSummary; open: boolean; onToggle: () => void }) {
  const { t } = useApp();
  return (
    <>
      <tr>
        <td class="mono">
          <a href={href({ page: "webhook", id: event.id })}>{event.id}</a>
        </td>
        <td class="mono">{event.type}</td>
        <td>
          <StatusBadge value={event.status} />
        </td>
        <td class="num">{event.attempts}</td>
        <td>{event.lastStatus ?? "–"}</td>
        <td>{formatTime(event.createdAt)}</td>
        <td>
          <button type="button" aria-expanded={open} aria-controls={`attempts-${event.id}`} onClick={onToggle}>
            {open ? t("webhook.hideAttempts") : t("webhook.showAttempts")}
          </button>
        </td>
      </tr>
      {open ? (
        <tr id={`attempts-${event.id}`}>
          <td colSpan={7}>
            <AttemptsLoader id={event.id} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function AttemptsLoader({ id }: { id: string }) {
  const { api } = useApp();
  const detail = useLoad(() => api.get<{ event: WebhookEvent; attempts: WebhookAttempt[] }>(`/admin/webhooks/events/${encodeURIComponent(id)}`), [id]);
  return <LoadState loaded={detail}>{(data) => <AttemptsTable attempts={data.attempts} />}</LoadState>;
}

/** Every delivery attempt of one merchant event. */
export function AttemptsTable({ attempts }: { attempts: readonly WebhookAttempt[] }) {
  const { t } = useApp();
  const columns: Column<WebhookAttempt>[] = [
    { label: t("attempt.at"), cell: (a) => formatTime(a.attemptedAt) },
    { label: t("attempt.statusCode"), cell: (a) => a.statusCode ?? "–" },
    { label: t("attempt.latency"), num: true, cell: (a) => a.latencyMs ?? "–" },
    { label: t("attempt.errorClass"), cell: (a) => a.errorClass ?? "–" },
    { label: t("attempt.via"), cell: (a) => a.via },
  ];
  return <DataTable caption={t("webhook.attemptsCaption")} columns={columns} rows={attempts} empty={t("webhook.noAttempts")} />;
}
