/** Health: the Worker's self-check (GET /health) and WeChat's shipping-service status for this mini program. */
import { useApp, useLoad } from "../context";
import { formatTime } from "../dates";
import { Badge, Facts, Loading, LoadState, PageHeading, ProblemNote, Section } from "../ui/common";

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
        <LoadState loaded={health}>
          {({ status, body }) => (
            <>
              <p role="status">{body.ok ? <Badge value={t("health.ok")} tone="good" /> : <Badge value={t("health.notOk", { status })} tone="bad" />}</p>
              {body.problems?.length ? (
                <>
                  <h3>{t("health.problems")}</h3>
                  <ul class="problems">
                    {body.problems.map((problem) => (
                      <li key={problem}>{problem}</li>
                    ))}
                  </ul>
                </>
              ) : null}
              {body.shipping ? <p class="hint">{t("health.lastShipping", { at: formatTime(body.shipping.checkedAt) })}</p> : null}
            </>
          )}
        </LoadState>
      </Section>
      <Section id="shipping" title={t("health.shipping")}>
        <p class="hint">{t("health.shippingHelp")}</p>
        <ProblemNote problem={shipping.problem} prefix={t("health.shippingFailed")} />
        {shipping.data ? (
          <Facts
            items={[
              [t("health.tradeManaged"), yesNo(shipping.data.tradeManaged)],
              [t("health.confirmationCompleted"), yesNo(shipping.data.confirmationCompleted)],
            ]}
          />
        ) : shipping.loading ? (
          <Loading />
        ) : null}
      </Section>
    </>
  );
}
