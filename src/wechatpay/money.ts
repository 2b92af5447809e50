/**
 * Money conversions done on strings, never through floating point: `0.07 * 100` is
 * 7.000000000000001 and `19.9 * 100` is 1989.9999999999998. WeChat's XML carries
 * integer fen; bills carry yuan with up to two decimals.
 */

/** Thrown for any amount that is not exactly representable as a safe, non-negative integer of fen. */
export class MoneyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MoneyError";
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Leading zeros are refused ("007") because amounts are compared as exact strings elsewhere. */
const YUAN = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,2}))?$/;
const FEN = /^(0|[1-9][0-9]*)$/;

/**
 * Exact yuan string → integer fen: `"0.07"`→7, `"19.9"`→1990, `"45.0"`→4500, `"1"`→100.
 * More than two decimals, signs, exponents, spaces, empty strings, non-digits and amounts beyond
 * Number.MAX_SAFE_INTEGER fen throw {@link MoneyError}.
 */
export function yuanToFen(yuan: string): number {
  const m = typeof yuan === "string" ? YUAN.exec(yuan) : null;
  if (!m) throw new MoneyError("invalid yuan amount");
  const whole = m[1] ?? "0";
  const fraction = (m[2] ?? "").padEnd(2, "0");
  const fen = BigInt(whole) * 100n + BigInt(fraction);
  if (fen > MAX_SAFE) throw new MoneyError("yuan amount out of range");
  return Number(fen);
}

/** Integer fen → yuan with exactly two decimals: 7→`"0.07"`, 1990→`"19.90"`. Non-integers throw. */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new MoneyError("fen must be a non-negative safe integer");
  const whole = Math.floor(fen / 100);
  const cents = fen % 100;
  return `${whole}.${cents.toString().padStart(2, "0")}`;
}

/**
 * Strict fen string (as in `total_fee`) → number: digits only, no sign, no decimals, no exponent,
 * no leading zeros, at most Number.MAX_SAFE_INTEGER. WeChat itself rejects `"1.00"` as total_fee.
 */
export function parseFen(s: string): number {
  if (typeof s !== "string" || !FEN.test(s)) throw new MoneyError("invalid fen amount");
  const fen = BigInt(s);
  if (fen > MAX_SAFE) throw new MoneyError("fen amount out of range");
  return Number(fen);
}

/** WeChat's `total_fee` and `refund_fee` are Int: no order total can exceed this many fen. */
export const MAX_TOTAL_FEE = 2_147_483_647;
