// The API v3 trade bill: GET /v3/bill/tradebill?bill_date=YYYY-MM-DD[&bill_type=ALL|SUCCESS|REFUND][&tar_type=GZIP]
// answers {hash_type: "SHA1", hash_value (of the uncompressed bill), download_url}; GET the download_url
// (/v3/billdownload/file?token=…, signed like any request) answers the file itself, unsigned — the v2 bill
// format with backtick cells (sim/bill.ts), v2 and v3 trades alike
// (https://pay.weixin.qq.com/doc/v3/merchant/4012556654, https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter4_5_8.shtml).
import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { renderBill } from "../bill.ts";
import type { BillType } from "../bill.ts";
import { billRows } from "../downloadbill.ts";
import { isValidDate8 } from "../time.ts";
import type { V3Call } from "./call.ts";
import { ok, paramError, v3Error } from "./reply.ts";
import type { V3Reply } from "./reply.ts";

const BILL_TYPES = ["ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND", "ALL_SPECIAL", "SUC_SPECIAL", "REF_SPECIAL"];
/** Bills older than this many days are not kept ("只支持三个月内的账单"). */
const KEPT_DAYS = 92;

/** GET /v3/bill/tradebill: renders the day's bill, keeps it behind a token and answers its SHA-1 and URL. */
export function tradeBill(call: V3Call): V3Reply {
  const s = call.s;
  const q = call.url.searchParams;
  const billDate = q.get("bill_date");
  if (billDate === null || billDate === "") throw paramError("bill_date", "缺少必填参数", undefined, "query");
  const compact = /^\d{4}-\d{2}-\d{2}$/.test(billDate) ? billDate.replaceAll("-", "") : "";
  if (!isValidDate8(compact)) throw paramError("bill_date", "应为yyyy-MM-dd格式的日期", billDate, "query");
  const billType = q.get("bill_type") ?? "ALL";
  if (!BILL_TYPES.includes(billType)) throw paramError("bill_type", "取值错误", billType, "query");
  const tarType = q.get("tar_type");
  if (tarType !== null && tarType !== "GZIP") throw paramError("tar_type", "仅支持GZIP", tarType, "query");
  const dayStart = Date.parse(`${billDate}T00:00:00+08:00`);
  if (s.now() - dayStart > KEPT_DAYS * 86_400_000) return v3Error(400, "INVALID_REQUEST", "只能下载三个月以内的账单");
  const { trades, refunds } = billRows(s, compact);
  const renderable = ["ALL", "SUCCESS", "REFUND"].includes(billType) ? (billType as BillType) : "RECHARGE_REFUND";
  const text = renderBill({ billType: renderable, trades, refunds, bom: s.options.bill?.bom, eol: s.options.bill?.eol });
  if (text === null) return v3Error(400, "NO_STATEMENT_EXIST", "账单文件不存在");
  const plain = Buffer.from(text, "utf8");
  const token = randomBytes(24).toString("base64url");
  const gzip = tarType === "GZIP";
  s.v3.bills.set(token, { bytes: new Uint8Array(gzip ? gzipSync(plain) : plain), gzip, expiresAt: s.now() + s.v3.billUrlValidityMs });
  return ok({ hash_type: "SHA1", hash_value: createHash("sha1").update(plain).digest("hex"), download_url: `${call.url.origin}/v3/billdownload/file?token=${token}` });
}

/** GET /v3/billdownload/file?token=…: the bill bytes, with no signature headers; an unknown or expired token → 400. */
export function downloadBillFile(call: V3Call): V3Reply {
  const s = call.s;
  const token = call.url.searchParams.get("token") ?? "";
  const file = s.v3.bills.get(token);
  if (!file || s.now() > file.expiresAt) {
    s.v3.bills.delete(token);
    return v3Error(400, "INVALID_REQUEST", "下载链接无效或已过期，请重新申请账单");
  }
  return { status: 200, bytes: file.bytes, contentType: file.gzip ? "application/x-gzip" : "text/plain;charset=utf-8", signed: false };
}
