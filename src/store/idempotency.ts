/** D1 statements for `idempotency_keys` (POST /api/orders `Idempotency-Key`, per user, 24 h). */

export interface IdempotencyRow {
  user_id: string;
  key: string;
  request_hash: string;
  out_trade_no: string;
  created_at: number;
}

/** The key's row if it was created after `notBefore`; older rows are dropped so the key can be reused. */
export async function findIdempotencyKey(db: D1Database, userId: string, key: string, notBefore: number): Promise<IdempotencyRow | null> {
  const row = await db.prepare("SELECT * FROM idempotency_keys WHERE user_id = ?1 AND key = ?2").bind(userId, key).first<IdempotencyRow>();
  if (row && row.created_at < notBefore) {
    await db.prepare("DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 AND created_at < ?3").bind(userId, key, notBefore).run();
    return null;
  }
  return row;
}
