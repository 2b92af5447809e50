/** D1 statements for `products`. */
import { adminEventStatement } from "./events";
import type { Fulfilment } from "./orders";

export interface ProductRow {
  sku: string;
  name: string;
  price_fen: number;
  active: number;
  fulfilment: Fulfilment;
}

const COLUMNS = "sku, name, price_fen, active, fulfilment";

export async function listActiveProducts(db: D1Database): Promise<ProductRow[]> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM products WHERE active = 1 ORDER BY sku`)
    .all<ProductRow>();
  return results;
}

/** Every product, inactive ones too, by sku (the admin catalogue: a shop's few dozen products). */
export async function listAllProducts(db: D1Database): Promise<ProductRow[]> {
  const { results } = await db.prepare(`SELECT ${COLUMNS} FROM products ORDER BY sku`).all<ProductRow>();
  return results;
}

/** Active products among `skus` (at most 50 by validation, well under D1's 100 bound parameters). */
export async function getActiveProducts(db: D1Database, skus: readonly string[]): Promise<ProductRow[]> {
  if (skus.length === 0) return [];
  const placeholders = skus.map((_, i) => `?${i + 1}`).join(", ");
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM products WHERE active = 1 AND sku IN (${placeholders})`)
    .bind(...skus)
    .all<ProductRow>();
  return results;
}

/** Creates or updates a product, with the admin's `admin_product` event in the same batch. */
export async function upsertProduct(
  db: D1Database,
  input: { sku: string; name: string; priceFen: number; active: boolean; fulfilment: Fulfilment | null; now: number },
  actor: string,
): Promise<ProductRow> {
  const [upsert] = await db.batch<ProductRow>([
    db
      .prepare(
        `INSERT INTO products (sku, name, price_fen, active, fulfilment, updated_at) VALUES (?1, ?2, ?3, ?4, COALESCE(?6, 'physical'), ?5)
         ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_fen = excluded.price_fen,
           active = excluded.active, fulfilment = COALESCE(?6, products.fulfilment), updated_at = excluded.updated_at
         RETURNING ${COLUMNS}`,
      )
      .bind(input.sku, input.name, input.priceFen, input.active ? 1 : 0, input.now, input.fulfilment),
    // fulfilment null: the request left it as it was (or physical for a new product).
    adminEventStatement(db, {
      kind: "admin_product", actor,
      detail: { sku: input.sku, name: input.name, price_fen: input.priceFen, active: input.active, fulfilment: input.fulfilment },
      createdAt: input.now,
    }),
  ]);
  const row = upsert?.results[0];
  if (!row) throw new Error("product upsert returned no row");
  return row;
}
