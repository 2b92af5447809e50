/** The console's tables: a caption, column headers, one row per item, a line when there is none. */
import type { ComponentChildren } from "preact";
import { EmptyRow } from "./common";

/** One column: its header, its cell for a row, and how it looks. */
export interface Column<R> {
  label: string;
  cell: (row: R) => ComponentChildren;
  /** Numbers and money: right-aligned, tabular figures. */
  num?: boolean;
  /** The row's header cell (`<th scope="row">`), e.g. the name of a counter. */
  header?: boolean;
  /** Extra class of the body cells (mono, nowrap, detail). */
  class?: string;
  /** Extra class of the column header. */
  headClass?: string;
}

const classes = (...names: (string | false | undefined)[]) => names.filter(Boolean).join(" ") || undefined;

export interface DataTableProps<R> {
  caption: string;
  columns: readonly Column<R>[];
  rows: readonly R[];
  /** Shown in one row when `rows` is empty. */
  empty: string;
  rowKey?: (row: R) => string | number;
  /** The rows are being loaded again. */
  busy?: boolean;
  /** A <tfoot>. */
  foot?: ComponentChildren;
  testId?: string;
}

export function DataTable<R>({ caption, columns, rows, empty, rowKey, busy, foot, testId }: DataTableProps<R>) {
  return (
    <table class="table" aria-busy={busy || undefined} data-testid={testId}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {columns.map((column, i) => (
            <th key={i} scope="col" class={classes(column.num && "num", column.headClass)}>
              {column.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 ? <EmptyRow columns={columns.length} text={empty} /> : null}
        {rows.map((row, i) => (
          <tr key={rowKey ? rowKey(row) : i}>
            {columns.map((column, j) => {
              const cls = classes(column.num && "num", column.class);
              return column.header ? (
                <th key={j} scope="row" class={cls}>
                  {column.cell(row)}
                </th>
              ) : (
                <td key={j} class={cls}>
                  {column.cell(row)}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
      {foot}
    </table>
  );
}
