/**
 * downloadbill body parsing (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_6). The success body is not XML but backtick-prefixed CSV:
 * a header row, data rows, a summary header row and one summary row; amounts in yuan. Columns are
 * looked up by their Chinese header names, so the ALL, SUCCESS and REFUND layouts (and the legacy
 * pre-2018 names) all go through the same code.
 */
import { MoneyError, yuanToFen } from "./money";
import { readXml } from "./xml";

/** Thrown for a bill body that is not a complete, well-formed bill. */
export class BillError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BillError";
  }
}

/** One trade (or refund) line of a bill. String fields are exactly as in the file, backtick removed. */
export interface BillRow {
  /** 交易时间, Beijing `yyyy-MM-dd HH:mm:ss`. */
  tradeTime: string;
  appId: string;
  mchId: string;
  transactionId: string;
  outTradeNo: string;
  openid: string;
  tradeType: string;
  /** 交易状态: SUCCESS, REFUND, REVOKED... */
  tradeState: string;
  /** 应结订单金额 (legacy: 总金额) in fen. */
  totalFeeFen: number;
  /** 订单金额 in fen, when the layout has it. */
  orderFeeFen?: number;
  /** 微信退款单号 when the layout has it (ALL bills put "0" on non-refund rows). */
  refundId?: string;
  /** 商户退款单号 when the layout has it (ALL bills put "0" on non-refund rows). */
  outRefundNo?: string;
  /** 退款金额 in fen, when the layout has it. */
  refundFeeFen?: number;
  /** 退款状态 when the layout has it. */
  refundState?: string;
  /** 商品名称. */
  body?: string;
  /** 商户数据包. */
  attach?: string;
  /** 申请退款金额 in fen (what was asked; 退款金额 is 0 for a closed refund), when the layout has it. */
  requestedRefundFeeFen?: number;
}

/** The bill's closing line. */
export interface BillSummary {
  /** 总交易单数 ("45.0" in some files is read as 45). */
  tradeCount: number;
  /** 应结订单总金额 (legacy: 总交易额) in fen. */
  totalFeeFen: number;
  /** 退款总金额 (legacy: 总退款金额) in fen. */
  refundFeeFen: number;
  raw: Record<string, string>;
  /** 1-based line number of the summary row in the downloaded file. */
  line: number;
}

/** A data line of the bill that could not be read as a row (the rest of the bill still is). */
export interface UnreadableBillLine {
  /** 1-based line number in the downloaded file. */
  line: number;
  /** Why, e.g. `expected 27 fields, got 29` (a backtick inside a field shifts the columns). */
  reason: string;
}

/** A parsed bill. */
export interface Bill {
  columns: string[];
  rows: BillRow[];
  /** Data lines that could not be read; `rows` holds every other one. */
  unreadable: UnreadableBillLine[];
  summary: BillSummary;
}

const SUMMARY_FIRST_COLUMN = "总交易单数";

/**
 * Splits one line into fields. Backtick rows split on ",`" rather than "," because each field
 * starts with a backtick, which keeps a comma inside a product name from shifting every column.
 */
function splitLine(line: string): string[] {
  if (line.startsWith("`")) return line.slice(1).split(",`");
  return line.split(",");
}

/** Header names, with a stray leading backtick tolerated. */
function splitHeader(line: string): string[] {
  return line.split(",").map((name) => (name.startsWith("`") ? name.slice(1) : name));
}

/** splitHeader(line)[0] === 总交易单数, without splitting every data row to find out. */
function isSummaryHeader(line: string): boolean {
  const name = line.startsWith("`") ? line.slice(1) : line;
  return name === SUMMARY_FIRST_COLUMN || name.startsWith(`${SUMMARY_FIRST_COLUMN},`);
}

/** Zips header names with values; the field count must match exactly. */
function toRecord(columns: string[], line: string, what: string): Record<string, string> {
  const values = splitLine(line);
  if (values.length !== columns.length) {
    throw new BillError(`${what}: expected ${columns.length} fields, got ${values.length}`);
  }
  // fromEntries defines own properties, so even a hostile header name cannot touch a prototype.
  return Object.fromEntries(columns.map((name, i) => [name, values[i] ?? ""]));
}

/** First present column among `names` (current name first, then the legacy one). */
function pick(record: Record<string, string>, ...names: string[]): string | undefined {
  for (const name of names) if (Object.prototype.hasOwnProperty.call(record, name)) return record[name];
  return undefined;
}

function need(record: Record<string, string>, what: string, ...names: string[]): string {
  const value = pick(record, ...names);
  if (value === undefined) throw new BillError(`${what}: missing column ${names[0]}`);
  return value;
}

function fen(value: string, what: string): number {
  try {
    return yuanToFen(value);
  } catch (err) {
    if (err instanceof MoneyError) throw new BillError(`${what}: invalid amount`);
    throw err;
  }
}

/** 总交易单数 is an integer, sometimes written "45.0". */
function count(value: string): number {
  const m = /^(0|[1-9][0-9]*)(?:\.0+)?$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n)) throw new BillError("summary: invalid trade count");
  return n;
}

function toRow(columns: string[], line: string): BillRow {
  const what = "row";
  const raw = toRecord(columns, line, what);
  const row: BillRow = {
    tradeTime: need(raw, what, "交易时间"),
    appId: need(raw, what, "公众账号ID"),
    mchId: need(raw, what, "商户号"),
    transactionId: need(raw, what, "微信订单号"),
    outTradeNo: need(raw, what, "商户订单号"),
    openid: need(raw, what, "用户标识"),
    tradeType: need(raw, what, "交易类型"),
    tradeState: need(raw, what, "交易状态"),
    totalFeeFen: fen(need(raw, what, "应结订单金额", "总金额"), what),
  };
  const orderFee = pick(raw, "订单金额");
  if (orderFee !== undefined) row.orderFeeFen = fen(orderFee, what);
  const refundId = pick(raw, "微信退款单号");
  if (refundId !== undefined) row.refundId = refundId;
  const outRefundNo = pick(raw, "商户退款单号");
  if (outRefundNo !== undefined) row.outRefundNo = outRefundNo;
  const refundFee = pick(raw, "退款金额");
  if (refundFee !== undefined) row.refundFeeFen = fen(refundFee, what);
  const refundState = pick(raw, "退款状态");
  if (refundState !== undefined) row.refundState = refundState;
  const body = pick(raw, "商品名称");
  if (body !== undefined) row.body = body;
  const attach = pick(raw, "商户数据包");
  if (attach !== undefined) row.attach = attach;
  const requested = pick(raw, "申请退款金额");
  if (requested !== undefined) row.requestedRefundFeeFen = fen(requested, what);
  return row;
}

/**
 * Parses a downloadbill success body. Tolerates a UTF-8 BOM, CRLF or LF and blank lines; requires
 * the header, the summary header and exactly one summary row at the end (a truncated download must
 * not pass as a short bill): a bill without them → BillError. A data row that cannot be read (wrong
 * field count, a bad amount) does not sink the bill: it is listed in `unreadable` with its line
 * number, because WeChat writes merchant text (商品名称, 商户数据包) into the file unescaped and one
 * stray backtick must not make a whole day impossible to reconcile. Amounts go through
 * {@link yuanToFen}. Rows keep only the mapped columns (a bill can hold many thousand rows: no
 * per-row copy of every column); fee columns (手续费, 5 decimals, may be negative) are not read. The
 * summary keeps `raw`.
 */
export function parseBill(text: string): Bill {
  if (typeof text !== "string") throw new BillError("bill must be text");
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (isBillErrorXml(body)) throw new BillError("body is an XML error, not a bill");
  // [line number, text] of every non-blank line.
  const lines = body
    .split(/\r?\n/)
    .map((line, i) => [i + 1, line] as const)
    .filter(([, line]) => line !== "");
  const headerLine = lines[0]?.[1];
  if (headerLine === undefined) throw new BillError("empty bill");
  const columns = splitHeader(headerLine);
  if (new Set(columns).size !== columns.length) throw new BillError("duplicate column names");
  if (!columns.includes("交易时间")) throw new BillError("missing bill header");

  const summaryAt = lines.findIndex(([, line], i) => i > 0 && isSummaryHeader(line));
  if (summaryAt < 0) throw new BillError("missing summary (truncated bill?)");
  if (summaryAt !== lines.length - 2) throw new BillError("expected exactly one summary row at the end");
  const summaryColumns = splitHeader(lines[summaryAt]?.[1] ?? "");
  const summaryRaw = toRecord(summaryColumns, lines[summaryAt + 1]?.[1] ?? "", "summary");

  const rows: BillRow[] = [];
  const unreadable: UnreadableBillLine[] = [];
  for (const [number, line] of lines.slice(1, summaryAt)) {
    try {
      rows.push(toRow(columns, line));
    } catch (error) {
      if (!(error instanceof BillError)) throw error;
      unreadable.push({ line: number, reason: error.message.replace(/^row: /, "") });
    }
  }
  const summary: BillSummary = {
    tradeCount: count(need(summaryRaw, "summary", SUMMARY_FIRST_COLUMN)),
    totalFeeFen: fen(need(summaryRaw, "summary", "应结订单总金额", "总交易额"), "summary"),
    refundFeeFen: fen(need(summaryRaw, "summary", "退款总金额", "总退款金额"), "summary"),
    raw: summaryRaw,
    line: lines[summaryAt + 1]?.[0] ?? 0,
  };
  return { columns, rows, unreadable, summary };
}

/** True when a downloadbill body is an XML error document instead of a bill. */
export function isBillErrorXml(text: string): boolean {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  return /^\s*(?:<\?xml|<xml[\s>])/.test(body);
}

/**
 * Reads a downloadbill XML error (e.g. `No Bill Exist` with error_code 20002) through the hardened
 * reader. The sandbox spells the message `retmsg`. Unreadable XML → BillError.
 */
export function readBillError(text: string): { returnMsg: string; errorCode?: string } {
  let fields;
  try {
    fields = readXml(text);
  } catch {
    throw new BillError("unreadable bill error XML");
  }
  const result: { returnMsg: string; errorCode?: string } = { returnMsg: fields.return_msg ?? fields.retmsg ?? "" };
  if (fields.error_code !== undefined) result.errorCode = fields.error_code;
  return result;
}
