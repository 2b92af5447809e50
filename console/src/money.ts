/**
 * Money in the console: the API speaks integer fen, people type and read yuan. Both directions work
 * on the digits (string and integer arithmetic only), never on floating-point yuan, so 19.90 is
 * always 1990 fen and 1990 fen always reads ¥19.90.
 */

/** The largest amount the console accepts, in fen: ¥1,000,000 a unit, the API's own priceFen limit. */
export const MAX_FEN = 100_000_000;

/** `fen` (an integer) as yuan with two decimals and thousands separators, e.g. 123456 → "¥1,234.56". */
export function formatFen(fen: number): string {
  if (!Number.isSafeInteger(fen)) return "¥?";
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const yuan = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = String(abs % 100).padStart(2, "0");
  return `${sign}¥${yuan}.${cents}`;
}

/** Why a typed amount is refused (each has a message in the dictionaries: `amount.<problem>`). */
export type AmountProblem = "empty" | "notNumber" | "negative" | "tooManyDecimals" | "zero" | "tooLarge";

export type ParsedAmount = { ok: true; fen: number } | { ok: false; problem: AmountProblem };

/**
 * A yuan amount typed by a person ("9.95", "10", "0.5", " 19.90 ") as integer fen, by reading its
 * digits: at most two decimals, no sign, no exponent, no separators, at least 0.01, at most `maxFen`.
 */
export function parseYuan(text: string, maxFen = MAX_FEN): ParsedAmount {
  const value = text.trim();
  if (value === "") return { ok: false, problem: "empty" };
  if (/^-/.test(value)) return { ok: false, problem: "negative" };
  const match = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!match) return { ok: false, problem: "notNumber" };
  const whole = match[1]!.replace(/^0+(?=\d)/, "");
  const decimals = match[2] ?? "";
  if (decimals.length > 2) return { ok: false, problem: "tooManyDecimals" };
  // More digits than MAX_FEN has yuan digits: too large, whatever they are (and no precision lost below).
  if (whole.length > 9) return { ok: false, problem: "tooLarge" };
  const fen = Number(whole) * 100 + Number(decimals.padEnd(2, "0"));
  if (fen === 0) return { ok: false, problem: "zero" };
  if (fen > maxFen) return { ok: false, problem: "tooLarge" };
  return { ok: true, fen };
}

/** `fen` as a plain yuan string for an input field, e.g. 1990 → "19.90". */
export function fenToYuanInput(fen: number): string {
  return formatFen(fen).replace(/[¥,]/g, "");
}
