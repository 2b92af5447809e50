/** D1 statements for `users`. */

export interface UserRow {
  id: string;
  openid: string;
  unionid: string | null;
}

/**
 * Creates the user for an openid or refreshes its session key, returning our stable user id.
 * The session_key is stored server-side only (it decrypts the client's encryptedData later).
 */
export async function upsertUser(
  db: D1Database,
  input: { id: string; openid: string; unionid: string | null; sessionKey: string; now: number },
): Promise<UserRow> {
  const row = await db
    .prepare(
      `INSERT INTO users (id, openid, unionid, session_key, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?5)
       ON CONFLICT (openid) DO UPDATE SET
         session_key = excluded.session_key,
         unionid = COALESCE(excluded.unionid, users.unionid),
         updated_at = excluded.updated_at
       RETURNING id, openid, unionid`,
    )
    .bind(input.id, input.openid, input.unionid, input.sessionKey, input.now)
    .first<UserRow>();
  if (!row) throw new Error("user upsert returned no row");
  return row;
}

export function getUser(db: D1Database, id: string): Promise<UserRow | null> {
  return db.prepare("SELECT id, openid, unionid FROM users WHERE id = ?1").bind(id).first<UserRow>();
}
