/**
 * Merchant events (webhooks): the list filtered by status and type, paged; one event with its payload
 * and every delivery attempt, and Redeliver (POST …/redeliver → 202; 409 WEBHOOKS_DISABLED shown).
 */
import { useState } from "preact/hooks";
import { ApiProblem, Unreachable } from "../api";
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import { WEBHOOK_STATUSES, WEBHOOK_TYPES, type WebhookAttempt, type WebhookEvent, type WebhookStatus, type WebhookSummary } from "../types";
import { Loading, PageHeading, Pager, ProblemNote, Section } from "../ui/common";
import { StatusBadge } from "../ui/status";
import { AttemptsTable, WebhookTable } from "../ui/webhook-table";

export function WebhooksPage() {
  const { t, api } = useApp();
  const [status, setStatus] = useState<WebhookStatus | "">("");
  const [type, setType] = useState("");
  const [cursor, setCursor] = useState<string | null>(null);
  const list = useLoad(() => {
    const query = new URLSearchParams({ limit: "20" });
    if (status) query.set("status", status);
    if (type) query.set("type", type);
    if (cursor) query.set("cursor", cursor);
    return api.get<{ events: WebhookSummary[]; nextCursor: string | null }>(`/admin/webhooks/events?${query}`);
  }, [status, type, cursor]);
  return (
    <>
      <PageHeading>{t("webhooks.title")}</PageHeading>
      <p class="hint">{t("webhooks.help")}</p>
      <div class="toolbar">
        <div class="field">
          <label for="webhook-status">{t("webhook.status")}</label>
          <select
            id="webhook-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value as WebhookStatus | "");
              setCursor(null);
            }}
          >
            <option value="">{t("webhooks.all")}</option>
            {WEBHOOK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`webhookStatus.${s}`)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="webhook-type">{t("webhook.type")}</label>
          <select
            id="webhook-type"
            value={type}
            onChange={(e) => {
              setType(e.currentTarget.value);
              setCursor(null);
            }}
          >
            <option value="">{t("webhooks.all")}</option>
            {WEBHOOK_TYPES.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ProblemNote problem={list.problem} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        <>
          <WebhookTable events={list.data.events} caption={t("webhooks.caption")} />
          <Pager atFirst={cursor === null} nextCursor={list.data.nextCursor} onFirst={() => setCursor(null)} onNext={setCursor} />
        </>
      ) : null}
    </>
  );
}

export function WebhookPage({ id }: { id: string }) {
  const { t, api } = useApp();
  const detail = useLoad(() => api.get<{ event: WebhookEvent; attempts: WebhookAttempt[] }>(`/admin/webhooks/events/${encodeURIComponent(id)}`), [id]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function redeliver() {
    if (busy) return;
    setBusy(true);
    setProblem(null);
    setNotice(null);
    try {
      await api.send("POST", `/admin/webhooks/events/${encodeURIComponent(id)}/redeliver`, undefined);
      setNotice(t("webhook.redelivered"));
      detail.reload();
    } catch (error) {
      if (error instanceof ApiProblem) setProblem(error);
      else if (!(error instanceof Unreachable)) throw error;
    } finally {
      setBusy(false);
    }
  }

  const event = detail.data?.event;
  return (
    <>
      <p class="crumbs">
        <a href={href({ page: "webhooks" })}>{t("webhook.back")}</a>
      </p>
      <PageHeading>
        {t("webhook.title")} <span class="mono">{id}</span>
      </PageHeading>
      <ProblemNote problem={detail.problem} />
      {detail.loading && !detail.data ? <Loading /> : null}
      {event ? (
        <>
          <Section id="event" title={t("webhook.summary")}>
            <dl class="facts">
              <dt>{t("webhook.type")}</dt>
              <dd class="mono">{event.type}</dd>
              <dt>{t("webhook.status")}</dt>
              <dd data-testid="webhook-status">
                <StatusBadge value={event.status} />
              </dd>
              <dt>{t("webhook.attempts")}</dt>
              <dd>{event.attempts}</dd>
              <dt>{t("webhook.lastStatus")}</dt>
              <dd>{event.lastStatus ?? "–"}</dd>
              <dt>{t("order.outTradeNo")}</dt>
              <dd class="mono">{event.outTradeNo ? <a href={href({ page: "order", outTradeNo: event.outTradeNo })}>{event.outTradeNo}</a> : "–"}</dd>
              <dt>{t("webhook.createdAt")}</dt>
              <dd>{formatTime(event.createdAt)}</dd>
              <dt>{t("webhook.deliveredAt")}</dt>
              <dd>{formatTime(event.deliveredAt)}</dd>
              <dt>{t("webhook.nextAttemptAt")}</dt>
              <dd>{formatTime(event.nextAttemptAt)}</dd>
            </dl>
            <button type="button" class="primary" disabled={busy} onClick={redeliver}>
              {busy ? t("common.working") : t("webhook.redeliver")}
            </button>
            <p class="hint">{t("webhook.redeliverHelp")}</p>
            {notice ? (
              <p role="status" class="success">
                {notice}
              </p>
            ) : null}
            <ProblemNote problem={problem} />
          </Section>
          <Section id="attempts" title={t("webhook.attemptsTitle")}>
            <AttemptsTable attempts={detail.data!.attempts} />
          </Section>
          <Section id="payload" title={t("webhook.payload")}>
            <pre class="payload" tabIndex={0} aria-label={t("webhook.payload")}>
              {JSON.stringify(event.payload, null, 2)}
            </pre>
          </Section>
        </>
      ) : null}
    </>
  );
}
