/**
 * The downloaded trade-bill file (https://pay.weixin.qq.com/doc/v3/merchant/4012556654). Its
 * download reply carries no WeChat signature
 * (https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter4_5_8.shtml): its integrity comes from the
 * SHA-1 that the signed tradebill reply gave, computed over the uncompressed file.
 */
import { readBodyCapped, ReplyTooLargeError } from "../http";
import { bytesToHex } from "./encoding";

/** The signed reply of `GET /v3/bill/tradebill`. */
export interface BillTicket {
  hash_type: string;
  /** SHA-1 of the uncompressed bill, hex. */
  hash_value: string;
  download_url: string;
}

export type BillFileResult = { ok: true; bytes: Uint8Array } | { ok: false; reason: "malformed" | "hash_mismatch" | "too_large"; message: string };

/**
 * Checks a downloaded file against its ticket: gunzips it first when it was requested as GZIP
 * (decompressed size capped at `maxBytes`, so a small bomb cannot fill memory), then compares the
 * SHA-1 of the uncompressed bytes with `hash_value`.
 */
export async function checkBillFile(downloaded: Uint8Array, ticket: BillTicket, opts: { gzip: boolean; maxBytes: number }): Promise<BillFileResult> {
  if (ticket.hash_type.toUpperCase() !== "SHA1") return { ok: false, reason: "malformed", message: `unsupported hash_type ${ticket.hash_type}` };
  let bytes = downloaded;
  if (opts.gzip) {
    try {
      const stream = new Blob([downloaded]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = await readBodyCapped(new Response(stream), opts.maxBytes);
    } catch (err) {
      if (err instanceof ReplyTooLargeError) return { ok: false, reason: "too_large", message: `bill larger than ${opts.maxBytes} bytes uncompressed` };
      return { ok: false, reason: "malformed", message: "bill is not valid gzip" };
    }
  }
  const digest = bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-1", bytes)));
  if (digest !== ticket.hash_value.toLowerCase()) return { ok: false, reason: "hash_mismatch", message: "bill SHA-1 differs from hash_value" };
  return { ok: true, bytes };
}
