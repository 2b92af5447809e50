/** D1 binds at most 100 parameters per statement: IN lists are queried in chunks below that. */
const CHUNK = 90;

/**
 * Runs `sql(placeholders)` (an `IN (${placeholders})` query) for `values` in chunks and returns all
 * rows, chunk after chunk (order within a chunk is the query's own). No values → no query.
 */
/** Rows grouped by their order, each group in the query's order. */
export function groupByOrder<T extends { out_trade_no: string }>(rows: readonly T[]): Map<string, T[]> {
  const grouped = new Map<string, T[]>();
  for (const row of rows) {
    const list = grouped.get(row.out_trade_no);
    if (list) list.push(row);
    else grouped.set(row.out_trade_no, [row]);
  }
  return grouped;
}

export async function allInChunks<T>(db: D1Database, values: readonly string[], sql: (placeholders: string) => string): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < values.length; i += CHUNK) {
    const chunk = values.slice(i, i + CHUNK);
    const { results } = await db.prepare(sql(chunk.map((_, j) => `?${j + 1}`).join(", "))).bind(...chunk).all<T>();
    out.push(...results);
  }
  return out;
}
