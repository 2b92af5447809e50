/** Health: the Worker's self-check (GET /health) and WeChat's shipping-service status for this mini program. */
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { Badge, Loading, PageHeading, ProblemNote, Section } from "../ui/common";

interface Health {
  ok: boolean;
  problems?: string[];
  shipping?: { tradeManaged: boolean; confirmationCompleted: boolean; checkedAt?: string };
}

export function HealthPage() {
  const { t, api } = useApp();
  // /health answers 503 with the problems' names: that is a result to show, not a failure.
  const health = useLoad(() => api.call<Health>("GET", "/health", { token: null, acceptStatus: [503] }), []);
  const shipping = useLoad(() => api.get<{ tradeManaged: boolean; confirmationCompleted: boolean }>("/admin/shipping/status"), []);
  const yesNo = (value: boolean) => <Badge value={value ? t("common.yes") : t("common.no")} tone={value ? "good" : "wait"} />;
  return (
    <>
      <PageHeading>{t("health.title")}</PageHeading>
      <Section id="worker" title={t("health.worker")}>
        <ProblemNote problem={health.problem} />
        {health.loading && !health.data ? <Loading /> : null}
        {health.data ? (
          <>
            <p role="status">
              {health.data.body.ok ? <Badge value={t("health.ok")} tone="good" /> : <Badge value={t("health.notOk", { status: health.data.status })} tone="bad" />}
            </p>
            {health.data.body.problems?.length ? (
              <>
                <h3>{t("health.problems")}</h3>
                <ul class="problems">
                  {health.data.body.problems.map((problem) => (
                    <li key={problem}>{problem}</li>
                  ))}
                </ul>
              </>
            ) : null}
            {health.data.body.shipping ? <p class="hint">{t("health.lastShipping", { at: formatTime(health.data.body.shipping.checkedAt) })}</p> : null}
          </>
        ) : null}
      </Section>
      <Section id="shipping" title={t("health.shipping")}>
        <p class="hint">{t("health.shippingHelp")}</p>
        <ProblemNote problem={shipping.problem} prefix={t("health.shippingFailed")} />
        {shipping.loading && !shipping.data ? <Loading /> : null}
        {shipping.data ? (
          <dl class="facts">
            <dt>{t("health.tradeManaged")}</dt>
            <dd>{yesNo(shipping.data.tradeManaged)}</dd>
            <dt>{t("health.confirmationCompleted")}</dt>
            <dd>{yesNo(shipping.data.confirmationCompleted)}</dd>
          </dl>
        ) : null}
      </Section>
    </>
  );
}
