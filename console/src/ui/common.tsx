/** Small shared pieces: headings that take focus, loading and error notes, the pager, money. */
import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { ApiProblem } from "../api";
import { useApp, type Loaded } from "../context";
import { formatFen } from "../money";

/** The page's h1; it takes the focus when the page opens, so keyboard and screen-reader users land on it. */
export function PageHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function Loading() {
  const { t } = useApp();
  return (
    <p role="status" class="loading">
      {t("common.loading")}
    </p>
  );
}

/** The API's error as a merchant reads it: its message, its code and the HTTP status. */
export function ProblemNote({ problem, prefix }: { problem: ApiProblem | null; prefix?: string }) {
  const { t } = useApp();
  if (!problem) return null;
  return (
    <div role="alert" class="problem">
      {prefix ? <strong>{prefix} </strong> : null}
      {problem.message || t("error.http", { status: problem.status })}{" "}
      <span class="problem-code">
        ({problem.code}, HTTP {problem.status})
      </span>
    </div>
  );
}

/** A message the user must see now (role alert), or nothing. */
export const Alert = ({ text }: { text: string | null | undefined }) =>
  text ? (
    <p role="alert" class="problem">
      {text}
    </p>
  ) : null;

/** A quiet confirmation that something was done (role status), or nothing. */
export const Notice = ({ text }: { text: string | null | undefined }) =>
  text ? (
    <p role="status" class="success">
      {text}
    </p>
  ) : null;

/**
 * What a {@link useLoad} result shows: the API's error, "loading" until there is something, then
 * `children` with the data (kept on screen while it loads again).
 */
export function LoadState<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  return (
    <>
      <ProblemNote problem={loaded.problem} />
      {loaded.loading && loaded.data === undefined ? <Loading /> : null}
      {loaded.data !== undefined ? children(loaded.data) : null}
    </>
  );
}

/** Keyset paging: "first page" once past it, "next page" while the API returns a nextCursor. */
export function Pager({ atFirst, nextCursor, onFirst, onNext }: { atFirst: boolean; nextCursor: string | null; onFirst: () => void; onNext: (cursor: string) => void }) {
  const { t } = useApp();
  return (
    <nav class="pager" aria-label={t("pager.label")}>
      <button type="button" disabled={atFirst} onClick={onFirst}>
        {t("pager.first")}
      </button>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && onNext(nextCursor)}>
        {t("pager.next")}
      </button>
    </nav>
  );
}

export const Money = ({ fen }: { fen: number | null | undefined }) => <span class="money">{fen === null || fen === undefined ? "–" : formatFen(fen)}</span>;

/** One fact of a {@link Facts} list: its name, its value, and optionally a test id for the value. */
export type Fact = [term: string, value: ComponentChildren, testId?: string];

/** Name–value pairs (an order's or an event's summary) as a description list. */
export const Facts = ({ items }: { items: readonly Fact[] }) => (
  <dl class="facts">
    {items.map(([term, value, testId]) => (
      <Fragment key={term}>
        <dt>{term}</dt>
        <dd data-testid={testId}>{value}</dd>
      </Fragment>
    ))}
  </dl>
);

/** A labelled <select> of `options` ([value, label] pairs); `onChange` gets the chosen value. */
export function SelectField<V extends string>({ id, label, value, options, onChange }: { id: string; label: string; value: V; options: readonly (readonly [V, string])[]; onChange: (value: V) => void }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value as V)}>
        {options.map(([option, text]) => (
          <option key={option} value={option}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A titled section of a page (h2), labelled by its heading. */
export function Section({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby={`${id}-heading`} class="section">
      <h2 id={`${id}-heading`}>{title}</h2>
      {children}
    </section>
  );
}

/** A status code shown as a badge (its text is the code itself, coloured by kind). */
export function Badge({ value, tone }: { value: string; tone?: "good" | "bad" | "wait" | "plain" }) {
  return <span class={`badge badge-${tone ?? "plain"}`}>{value}</span>;
}

/** An empty table's single row, spanning every column. */
export const EmptyRow = ({ columns, text }: { columns: number; text: string }) => (
  <tr>
    <td colSpan={columns} class="empty">
      {text}
    </td>
  </tr>
);

/** A one-line summary of an event's `detail` object (key=value, …; empty values left out), cut at 200 characters. */
export function summarise(detail: unknown): string {
  if (detail === null || detail === undefined) return "–";
  const text =
    typeof detail === "object" && !Array.isArray(detail)
      ? Object.entries(detail as Record<string, unknown>)
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(", ")
      : typeof detail === "string"
        ? detail
        : JSON.stringify(detail);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
