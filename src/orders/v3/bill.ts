/**
 * A day's trade bill through WeChat Pay API v3 (https://pay.weixin.qq.com/doc/v3/merchant/4012556654):
 * `GET /v3/bill/tradebill` (a signed ticket with the download URL and the SHA-1 of the uncompressed
 * file), then the signed download of a gzipped file, checked against that SHA-1 (the download itself
 * carries no signature). The file is v2's format, read by the same parser (wechatpay/bill.ts).
 */
import { upstreamError } from "../../errors";
import { logEvent } from "../../log";
import type { BillOfDay } from "../bill-reconcile";
import type { Deps } from "../deps";
import { errorCode, verifiedCode } from "./failure";

/** The bill of a Beijing date `yyyymmdd` (already validated by parseBillDate). */
export async function downloadBillV3(deps: Deps, date: string): Promise<BillOfDay> {
  const billDate = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}`;
  // gzip: WeChat sends a fraction of the bytes; the SHA-1 is still over the uncompressed file.
  const result = await (await deps.v3Client()).tradeBill({ billDate, billType: "ALL", gzip: true });
  if (result.ok) return { kind: "bill", bill: result.data.bill };
  const code = errorCode(result);
  // Our own reason (transport, signature, SHA-1, gzip, parser), or WeChat's code: never bill content.
  logEvent("tradebill_failed", { date, kind: result.kind, code, message: result.kind === "api_error" ? null : result.message });
  // "No bill" turns every local payment into a difference: believe it only when WeChat signed it.
  const signed = verifiedCode(result);
  if (signed === "NO_STATEMENT_EXIST") return { kind: "no_bill" };
  if (signed === "STATEMENT_CREATING") return { kind: "bill_creating" };
  if (result.kind === "api_error") throw upstreamError(`WeChat could not provide the bill: ${result.error.code}`);
  if (result.kind === "malformed") throw upstreamError(`WeChat's bill for ${date} could not be used (${result.message}); nothing was reconciled, try again`);
  throw upstreamError(`WeChat's bill for ${date} could not be downloaded (${result.message}); try again`);
}
