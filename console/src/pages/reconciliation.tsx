/**
 * Reconciliation: one Beijing day's WeChat bill against D1 (GET /admin/reconciliation/:yyyymmdd) with
 * its three difference tables and unreadable lines; and the scheduled job run now (POST /admin/reconcile).
 */
import { useState } from "preact/hooks";
import { ApiProblem, Unreachable } from "../api";
import { useApp } from "../context";
import { beijingYesterday, toBillDate } from "../dates";
import { href } from "../router";
import type { BillReport, ReconcileSummary } from "../types";
import { EmptyRow, Money, PageHeading, ProblemNote, Section } from "../ui/common";

export function ReconciliationPage() {
  const { t } = useApp();
  return (
    <>
      <PageHeading>{t("reconciliation.title")}</PageHeading>
      <BillSection />
      <JobSection />
    </>
  );
}

function BillSection() {
  const { t, api } = useApp();
  const [date, setDate] = useState(beijingYesterday);
  const [report, setReport] = useState<BillReport | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const billDate = toBillDate(date);
    if (!billDate || busy) return;
    setBusy(true);
    setProblem(null);
    try {
      setReport(await api.get<BillReport>(`/admin/reconciliation/${billDate}`));
    } catch (error) {
      if (error instanceof ApiProblem) {
        setReport(null);
        setProblem(error);
      } else if (!(error instanceof Unreachable)) throw error;
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section id="bill" title={t("reconciliation.bill")}>
      <p class="hint">{t("reconciliation.billHelp")}</p>
      <form class="toolbar" onSubmit={submit}>
        <div class="field">
          <label for="bill-date">{t("reconciliation.date")}</label>
          <input id="bill-date" type="date" required value={date} onInput={(e) => setDate(e.currentTarget.value)} />
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("common.working") : t("reconciliation.compare")}
        </button>
      </form>
      <ProblemNote problem={problem} />
      {report ? <BillReportView report={report} /> : null}
    </Section>
  );
}

const Order = ({ no }: { no: string }) => (
  <a class="mono" href={href({ page: "order", outTradeNo: no })}>
    {no}
  </a>
);

function BillReportView({ report }: { report: BillReport }) {
  const { t } = useApp();
  const { summary } = report;
  const differences = report.missingLocally.length + report.missingAtWechat.length + report.mismatched.length + report.unreadable.length;
  return (
    <div data-testid="bill-report">
      <p role="status" class={differences === 0 ? "success" : "problem"}>
        {differences === 0 ? t("reconciliation.allMatch", { date: report.date }) : t("reconciliation.differences", { date: report.date, count: differences })}
      </p>
      {summary.billExists ? null : <p class="hint">{t("reconciliation.noBill")}</p>}
      <table class="table">
        <caption>{t("reconciliation.summaryCaption")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("reconciliation.side")}</th>
            <th scope="col" class="num">{t("reconciliation.paymentCount")}</th>
            <th scope="col" class="num">{t("reconciliation.paymentFee")}</th>
            <th scope="col" class="num">{t("reconciliation.refundCount")}</th>
            <th scope="col" class="num">{t("reconciliation.refundFee")}</th>
          </tr>
        </thead>
        <tbody>
          {(
            [
              ["reconciliation.wechat", summary.wechat],
              ["reconciliation.local", summary.local],
            ] as const
          ).map(([label, totals]) => (
            <tr key={label}>
              <th scope="row">{t(label)}</th>
              <td class="num">{totals.paymentCount}</td>
              <td class="num">
                <Money fen={totals.paymentFee} />
              </td>
              <td class="num">{totals.refundCount}</td>
              <td class="num">
                <Money fen={totals.refundFee} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <table class="table">
        <caption>{t("reconciliation.missingLocally")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("reconciliation.kind")}</th>
            <th scope="col">{t("order.outTradeNo")}</th>
            <th scope="col">{t("order.transactionId")}</th>
            <th scope="col">{t("refund.outRefundNo")}</th>
            <th scope="col" class="num">{t("reconciliation.wechatFee")}</th>
            <th scope="col">{t("reconciliation.wechatStatus")}</th>
            <th scope="col">{t("reconciliation.localStatus")}</th>
          </tr>
        </thead>
        <tbody>
          {report.missingLocally.length === 0 ? <EmptyRow columns={7} text={t("reconciliation.none")} /> : null}
          {report.missingLocally.map((row, i) => (
            <tr key={i}>
              <td>{t(`reconciliation.kind.${row.kind === "refund" ? "refund" : "payment"}`)}</td>
              <td>
                <Order no={row.outTradeNo} />
              </td>
              <td class="mono">{row.transactionId}</td>
              <td class="mono">{row.outRefundNo ?? "–"}</td>
              <td class="num">
                <Money fen={row.wechatFee} />
              </td>
              <td>{row.wechatStatus}</td>
              <td>{row.localStatus ?? t("reconciliation.absent")}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <table class="table">
        <caption>{t("reconciliation.missingAtWechat")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("reconciliation.kind")}</th>
            <th scope="col">{t("order.outTradeNo")}</th>
            <th scope="col">{t("order.transactionId")}</th>
            <th scope="col">{t("refund.outRefundNo")}</th>
            <th scope="col" class="num">{t("reconciliation.localFee")}</th>
            <th scope="col">{t("reconciliation.localStatus")}</th>
          </tr>
        </thead>
        <tbody>
          {report.missingAtWechat.length === 0 ? <EmptyRow columns={6} text={t("reconciliation.none")} /> : null}
          {report.missingAtWechat.map((row, i) => (
            <tr key={i}>
              <td>{t(`reconciliation.kind.${row.kind === "refund" ? "refund" : "payment"}`)}</td>
              <td>
                <Order no={row.outTradeNo} />
              </td>
              <td class="mono">{row.transactionId ?? "–"}</td>
              <td class="mono">{row.outRefundNo ?? "–"}</td>
              <td class="num">
                <Money fen={row.localFee} />
              </td>
              <td>{row.localStatus}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <table class="table">
        <caption>{t("reconciliation.mismatched")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("reconciliation.kind")}</th>
            <th scope="col">{t("order.outTradeNo")}</th>
            <th scope="col">{t("refund.outRefundNo")}</th>
            <th scope="col">{t("reconciliation.field")}</th>
            <th scope="col">{t("reconciliation.wechatValue")}</th>
            <th scope="col">{t("reconciliation.localValue")}</th>
          </tr>
        </thead>
        <tbody>
          {report.mismatched.length === 0 ? <EmptyRow columns={6} text={t("reconciliation.none")} /> : null}
          {report.mismatched.map((row, i) => {
            const money = row.field === "totalFee" || row.field === "refundFee";
            const show = (value: number | string | null) => (value === null ? t("reconciliation.absent") : money && typeof value === "number" ? <Money fen={value} /> : String(value));
            return (
              <tr key={i}>
                <td>{t(`reconciliation.kind.${row.kind === "refund" ? "refund" : "payment"}`)}</td>
                <td>
                  <Order no={row.outTradeNo} />
                </td>
                <td class="mono">{row.outRefundNo ?? "–"}</td>
                <td class="mono">{row.field}</td>
                <td>{show(row.wechat)}</td>
                <td>{show(row.local)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>

      <table class="table">
        <caption>{t("reconciliation.unreadable")}</caption>
        <thead>
          <tr>
            <th scope="col" class="num">{t("reconciliation.line")}</th>
            <th scope="col">{t("reconciliation.reason")}</th>
          </tr>
        </thead>
        <tbody>
          {report.unreadable.length === 0 ? <EmptyRow columns={2} text={t("reconciliation.none")} /> : null}
          {report.unreadable.map((row, i) => (
            <tr key={i}>
              <td class="num">{row.line}</td>
              <td>{row.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The counters of POST /admin/reconcile, in the order the API documents them. */
const JOB_FIELDS = ["queried", "paid", "closed", "expired", "payError", "refundsQueried", "refundsUpdated", "refundsRetried", "errors", "wechatCalls", "d1Queries"] as const;

function JobSection() {
  const { t, api } = useApp();
  const [summary, setSummary] = useState<ReconcileSummary | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  async function run() {
    if (busy) return;
    setBusy(true);
    setProblem(null);
    try {
      setSummary((await api.send<ReconcileSummary>("POST", "/admin/reconcile", undefined)).body);
    } catch (error) {
      if (error instanceof ApiProblem) setProblem(error);
      else if (!(error instanceof Unreachable)) throw error;
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section id="job" title={t("reconciliation.job")}>
      <p class="hint">{t("reconciliation.jobHelp")}</p>
      <button type="button" class="primary" disabled={busy} onClick={run}>
        {busy ? t("common.working") : t("reconciliation.runJob")}
      </button>
      <ProblemNote problem={problem} />
      {summary ? (
        <table class="table" data-testid="job-summary">
          <caption>{t("reconciliation.jobCaption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("reconciliation.counter")}</th>
              <th scope="col" class="num">{t("reconciliation.count")}</th>
            </tr>
          </thead>
          <tbody>
            {JOB_FIELDS.map((field) => (
              <tr key={field}>
                <th scope="row">{t(`job.${field}`)}</th>
                <td class="num">{summary[field] ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}
