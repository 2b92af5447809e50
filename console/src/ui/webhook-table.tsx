/** Merchant events in a table (an order's, or a page of them) and delivery attempts. */
import { useState } from "preact/hooks";
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import type { WebhookAttempt, WebhookEvent, WebhookSummary } from "../types";
import { EmptyRow, Loading, ProblemNote } from "./common";
import { StatusBadge } from "./status";

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
  if (detail.problem) return <ProblemNote problem={detail.problem} />;
  if (!detail.data) return <Loading />;
  return <AttemptsTable attempts={detail.data.attempts} />;
}

/** Every delivery attempt of one merchant event. */
export function AttemptsTable({ attempts }: { attempts: readonly WebhookAttempt[] }) {
  const { t } = useApp();
  return (
    <table class="table nested">
      <caption>{t("webhook.attemptsCaption")}</caption>
      <thead>
        <tr>
          <th scope="col">{t("attempt.at")}</th>
          <th scope="col">{t("attempt.statusCode")}</th>
          <th scope="col" class="num">{t("attempt.latency")}</th>
          <th scope="col">{t("attempt.errorClass")}</th>
          <th scope="col">{t("attempt.via")}</th>
        </tr>
      </thead>
      <tbody>
        {attempts.length === 0 ? <EmptyRow columns={5} text={t("webhook.noAttempts")} /> : null}
        {attempts.map((a, i) => (
          <tr key={i}>
            <td>{formatTime(a.attemptedAt)}</td>
            <td>{a.statusCode ?? "–"}</td>
            <td class="num">{a.latencyMs ?? "–"}</td>
            <td>{a.errorClass ?? "–"}</td>
            <td>{a.via}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
