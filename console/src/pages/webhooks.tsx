/**
 * Merchant events (webhooks): the list filtered by status and type, paged; one event with its payload
 * and every delivery attempt, and Redeliver (POST …/redeliver → 202; 409 WEBHOOKS_DISABLED shown).
 */
import { useState } from "preact/hooks";
import { useAction, useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { href } from "../router";
import { WEBHOOK_STATUSES, WEBHOOK_TYPES, type WebhookAttempt, type WebhookEvent, type WebhookStatus, type WebhookSummary } from "../types";
import { Facts, LoadState, Notice, PageHeading, Pager, ProblemNote, Section, SelectField } from "../ui/common";
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
        <SelectField
          id="webhook-status"
          label={t("webhook.status")}
          value={status}
          options={[["", t("webhooks.all")], ...WEBHOOK_STATUSES.map((s) => [s, t(`webhookStatus.${s}`)] as const)]}
          onChange={(value) => {
            setStatus(value);
            setCursor(null);
          }}
        />
        <SelectField
          id="webhook-type"
          label={t("webhook.type")}
          value={type}
          options={[["", t("webhooks.all")], ...WEBHOOK_TYPES.map((name) => [name, name] as const)]}
          onChange={(value) => {
            setType(value);
            setCursor(null);
          }}
        />
      </div>
      <LoadState loaded={list}>
        {(data) => (
          <>
            <WebhookTable events={data.events} caption={t("webhooks.caption")} />
            <Pager atFirst={cursor === null} nextCursor={data.nextCursor} onFirst={() => setCursor(null)} onNext={setCursor} />
          </>
        )}
      </LoadState>
    </>
  );
}

export function WebhookPage({ id }: { id: string }) {
  const { t, api } = useApp();
  const detail = useLoad(() => api.get<{ event: WebhookEvent; attempts: WebhookAttempt[] }>(`/admin/webhooks/events/${encodeURIComponent(id)}`), [id]);
  const [notice, setNotice] = useState<string | null>(null);
  const redeliver = useAction();

  const send = () =>
    redeliver.run(async () => {
      setNotice(null);
      await api.send("POST", `/admin/webhooks/events/${encodeURIComponent(id)}/redeliver`, undefined);
      setNotice(t("webhook.redelivered"));
      detail.reload();
    });

  return (
    <>
      <p class="crumbs">
        <a href={href({ page: "webhooks" })}>{t("webhook.back")}</a>
      </p>
      <PageHeading>
        {t("webhook.title")} <span class="mono">{id}</span>
      </PageHeading>
      <LoadState loaded={detail}>
        {({ event, attempts }) => (
          <>
            <Section id="event" title={t("webhook.summary")}>
              <Facts
                items={[
                  [t("webhook.type"), <span class="mono">{event.type}</span>],
                  [t("webhook.status"), <StatusBadge value={event.status} />, "webhook-status"],
                  [t("webhook.attempts"), event.attempts],
                  [t("webhook.lastStatus"), event.lastStatus ?? "–"],
                  [t("order.outTradeNo"), event.outTradeNo ? <a class="mono" href={href({ page: "order", outTradeNo: event.outTradeNo })}>{event.outTradeNo}</a> : "–"],
                  [t("webhook.createdAt"), formatTime(event.createdAt)],
                  [t("webhook.deliveredAt"), formatTime(event.deliveredAt)],
                  [t("webhook.nextAttemptAt"), formatTime(event.nextAttemptAt)],
                ]}
              />
              <button type="button" class="primary" disabled={redeliver.busy} onClick={send}>
                {redeliver.busy ? t("common.working") : t("webhook.redeliver")}
              </button>
              <p class="hint">{t("webhook.redeliverHelp")}</p>
              <Notice text={notice} />
              <ProblemNote problem={redeliver.problem} />
            </Section>
            <Section id="attempts" title={t("webhook.attemptsTitle")}>
              <AttemptsTable attempts={attempts} />
            </Section>
            <Section id="payload" title={t("webhook.payload")}>
              <pre class="payload" tabIndex={0} aria-label={t("webhook.payload")}>
                {JSON.stringify(event.payload, null, 2)}
              </pre>
            </Section>
          </>
        )}
      </LoadState>
    </>
  );
}
