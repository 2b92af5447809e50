/**
 * Reconciliation: one Beijing day's WeChat bill against D1 (GET /admin/reconciliation/:yyyymmdd) with
 * its three difference tables and unreadable lines; and the scheduled job run now (POST /admin/reconcile).
 */
import { useState } from "preact/hooks";
import { useAction, useApp } from "../context";
import { beijingYesterday, toBillDate } from "../dates";
import type { MessageKey } from "../i18n";
import { href } from "../router";
import type { BillReport, ReconcileSummary, ReconcileTotals } from "../types";
import { Money, PageHeading, ProblemNote, Section } from "../ui/common";
import { DataTable, type Column } from "../ui/table";

type Row<K extends "missingLocally" | "missingAtWechat" | "mismatched" | "unreadable"> = BillReport[K][number];

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
  const compare = useAction();

  function submit(event: Event) {
    event.preventDefault();
    const billDate = toBillDate(date);
    if (!billDate) return;
    void compare.run(async () => {
      setReport(null);
      setReport(await api.get<BillReport>(`/admin/reconciliation/${billDate}`));
    });
  }

  return (
    <Section id="bill" title={t("reconciliation.bill")}>
      <p class="hint">{t("reconciliation.billHelp")}</p>
      <form class="toolbar" onSubmit={submit}>
        <div class="field">
          <label for="bill-date">{t("reconciliation.date")}</label>
          <input id="bill-date" type="date" required value={date} onInput={(e) => setDate(e.currentTarget.value)} />
        </div>
        <button type="submit" class="primary" disabled={compare.busy}>
          {compare.busy ? t("common.working") : t("reconciliation.compare")}
        </button>
      </form>
      <ProblemNote problem={compare.problem} />
      {report ? <BillReportView report={report} /> : null}
    </Section>
  );
}

const OrderLink = ({ no }: { no: string }) => (
  <a class="mono" href={href({ page: "order", outTradeNo: no })}>
    {no}
  </a>
);

function BillReportView({ report }: { report: BillReport }) {
  const { t } = useApp();
  const { summary } = report;
  const differences = report.missingLocally.length + report.missingAtWechat.length + report.mismatched.length + report.unreadable.length;
  const kind = (row: { kind: string }) => t(row.kind === "refund" ? "reconciliation.kind.refund" : "reconciliation.kind.payment");
  const money = (row: Row<"mismatched">, value: number | string | null) =>
    value === null ? t("reconciliation.absent") : (row.field === "totalFee" || row.field === "refundFee") && typeof value === "number" ? <Money fen={value} /> : String(value);

  const totals: Column<[MessageKey, ReconcileTotals]>[] = [
    { label: t("reconciliation.side"), header: true, cell: ([side]) => t(side) },
    { label: t("reconciliation.paymentCount"), num: true, cell: ([, x]) => x.paymentCount },
    { label: t("reconciliation.paymentFee"), num: true, cell: ([, x]) => <Money fen={x.paymentFee} /> },
    { label: t("reconciliation.refundCount"), num: true, cell: ([, x]) => x.refundCount },
    { label: t("reconciliation.refundFee"), num: true, cell: ([, x]) => <Money fen={x.refundFee} /> },
  ];
  const missingLocally: Column<Row<"missingLocally">>[] = [
    { label: t("reconciliation.kind"), cell: kind },
    { label: t("order.outTradeNo"), cell: (r) => <OrderLink no={r.outTradeNo} /> },
    { label: t("order.transactionId"), class: "mono", cell: (r) => r.transactionId },
    { label: t("refund.outRefundNo"), class: "mono", cell: (r) => r.outRefundNo ?? "–" },
    { label: t("reconciliation.wechatFee"), num: true, cell: (r) => <Money fen={r.wechatFee} /> },
    { label: t("reconciliation.wechatStatus"), cell: (r) => r.wechatStatus },
    { label: t("reconciliation.localStatus"), cell: (r) => r.localStatus ?? t("reconciliation.absent") },
  ];
  const missingAtWechat: Column<Row<"missingAtWechat">>[] = [
    { label: t("reconciliation.kind"), cell: kind },
    { label: t("order.outTradeNo"), cell: (r) => <OrderLink no={r.outTradeNo} /> },
    { label: t("order.transactionId"), class: "mono", cell: (r) => r.transactionId ?? "–" },
    { label: t("refund.outRefundNo"), class: "mono", cell: (r) => r.outRefundNo ?? "–" },
    { label: t("reconciliation.localFee"), num: true, cell: (r) => <Money fen={r.localFee} /> },
    { label: t("reconciliation.localStatus"), cell: (r) => r.localStatus },
  ];
  const mismatched: Column<Row<"mismatched">>[] = [
    { label: t("reconciliation.kind"), cell: kind },
    { label: t("order.outTradeNo"), cell: (r) => <OrderLink no={r.outTradeNo} /> },
    { label: t("refund.outRefundNo"), class: "mono", cell: (r) => r.outRefundNo ?? "–" },
    { label: t("reconciliation.field"), class: "mono", cell: (r) => r.field },
    { label: t("reconciliation.wechatValue"), cell: (r) => money(r, r.wechat) },
    { label: t("reconciliation.localValue"), cell: (r) => money(r, r.local) },
  ];
  const unreadable: Column<Row<"unreadable">>[] = [
    { label: t("reconciliation.line"), num: true, cell: (r) => r.line },
    { label: t("reconciliation.reason"), cell: (r) => r.reason },
  ];
  const none = t("reconciliation.none");
  return (
    <div data-testid="bill-report">
      <p role="status" class={differences === 0 ? "success" : "problem"}>
        {differences === 0 ? t("reconciliation.allMatch", { date: report.date }) : t("reconciliation.differences", { date: report.date, count: differences })}
      </p>
      {summary.billExists ? null : <p class="hint">{t("reconciliation.noBill")}</p>}
      <DataTable
        caption={t("reconciliation.summaryCaption")}
        columns={totals}
        rows={[
          ["reconciliation.wechat", summary.wechat],
          ["reconciliation.local", summary.local],
        ]}
        empty={none}
      />
      <DataTable caption={t("reconciliation.missingLocally")} columns={missingLocally} rows={report.missingLocally} empty={none} />
      <DataTable caption={t("reconciliation.missingAtWechat")} columns={missingAtWechat} rows={report.missingAtWechat} empty={none} />
      <DataTable caption={t("reconciliation.mismatched")} columns={mismatched} rows={report.mismatched} empty={none} />
      <DataTable caption={t("reconciliation.unreadable")} columns={unreadable} rows={report.unreadable} empty={none} />
    </div>
  );
}

/** The counters of POST /admin/reconcile, in the order the API documents them. */
const JOB_FIELDS = ["queried", "paid", "closed", "expired", "payError", "refundsQueried", "refundsUpdated", "refundsRetried", "errors", "wechatCalls", "d1Queries"] as const;

function JobSection() {
  const { t, api } = useApp();
  const [summary, setSummary] = useState<ReconcileSummary | null>(null);
  const job = useAction();
  const columns: Column<(typeof JOB_FIELDS)[number]>[] = [
    { label: t("reconciliation.counter"), header: true, cell: (field) => t(`job.${field}`) },
    { label: t("reconciliation.count"), num: true, cell: (field) => summary?.[field] ?? "–" },
  ];
  return (
    <Section id="job" title={t("reconciliation.job")}>
      <p class="hint">{t("reconciliation.jobHelp")}</p>
      <button type="button" class="primary" disabled={job.busy} onClick={() => job.run(async () => setSummary((await api.send<ReconcileSummary>("POST", "/admin/reconcile", undefined)).body))}>
        {job.busy ? t("common.working") : t("reconciliation.runJob")}
      </button>
      <ProblemNote problem={job.problem} />
      {summary ? <DataTable caption={t("reconciliation.jobCaption")} columns={columns} rows={JOB_FIELDS} empty="–" testId="job-summary" /> : null}
    </Section>
  );
}
