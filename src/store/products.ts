/** D1 statements for `products`. */

export interface ProductRow {
  sku: string;
  name: string;
  price_fen: number;
  active: number;
}

export async function listActiveProducts(db: D1Database): Promise<ProductRow[]> {
  const { results } = await db
    .prepare("SELECT sku, name, price_fen, active FROM products WHERE active = 1 ORDER BY sku")
    .all<ProductRow>();
  return results;
}

/** Active products among `skus` (at most 50 by validation, well under D1's 100 bound parameters). */
export async function getActiveProducts(db: D1Database, skus: readonly string[]): Promise<ProductRow[]> {
  if (skus.length === 0) return [];
  const placeholders = skus.map((_, i) => `?${i + 1}`).join(", ");
  const { results } = await db
    .prepare(`SELECT sku, name, price_fen, active FROM products WHERE active = 1 AND sku IN (${placeholders})`)
    .bind(...skus)
    .all<ProductRow>();
  return results;
}

export async function upsertProduct(
  db: D1Database,
  input: { sku: string; name: string; priceFen: number; active: boolean; now: number },
): Promise<ProductRow> {
  const row = await db
    .prepare(
      `INSERT INTO products (sku, name, price_fen, active, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_fen = excluded.price_fen,
         active = excluded.active, updated_at = excluded.updated_at
       RETURNING sku, name, price_fen, active`,
    )
    .bind(input.sku, input.name, input.priceFen, input.active ? 1 : 0, input.now)
    .first<ProductRow>();
  if (!row) throw new Error("product upsert returned no row");
  return row;
}
