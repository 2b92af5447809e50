/**
 * KV fast-path hints for payment notifications. KV is eventually consistent and has no
 * compare-and-set, so a hint is only ever used to skip work for a transaction D1 has already
 * committed; it is never the dedupe of record, and a KV failure only costs the fast path.
 */

/** Hints outlive WeChat's whole retry schedule (24 h 4 min) with margin. */
export const NOTIFY_HINT_TTL_SECONDS = 72 * 3600;

const key = (transactionId: string) => `paid:${transactionId}`;
const value = (outTradeNo: string, totalFee: number) => `${outTradeNo}:${totalFee}`;

/** True only when KV says this exact transaction (same order, same amount) was committed. */
export async function isKnownPaid(kv: KVNamespace, transactionId: string, outTradeNo: string, totalFee: number): Promise<boolean> {
  try {
    return (await kv.get(key(transactionId))) === value(outTradeNo, totalFee);
  } catch {
    return false;
  }
}

/** Written after the D1 commit; failures are swallowed (D1 stays the truth). */
export async function rememberPaid(kv: KVNamespace, transactionId: string, outTradeNo: string, totalFee: number): Promise<void> {
  try {
    await kv.put(key(transactionId), value(outTradeNo, totalFee), { expirationTtl: NOTIFY_HINT_TTL_SECONDS });
  } catch {
    // KV outage: the next duplicate simply takes the D1 path.
  }
}
