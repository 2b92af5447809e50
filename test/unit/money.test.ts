// Proves money conversion is exact string arithmetic: the float traps (0.07 * 100 and 19.9 * 100 in floats)
// (0.07, 19.9, 2.01, 0.57) convert exactly, bill-style values ("45.0", "0.00") work, and anything
// ambiguous (3 decimals, signs, exponents, spaces, leading zeros, unsafe sizes) throws MoneyError.
import { describe, expect, it } from "vitest";
import { fenToYuan, MoneyError, parseFen, yuanToFen } from "../../src/wechatpay/money";

describe("yuanToFen", () => {
  it.each([
    ["0.07", 7],
    ["19.9", 1990],
    ["2.01", 201],
    ["0.57", 57],
    ["45.0", 4500],
    ["0", 0],
    ["1", 100],
    ["0.00", 0],
    ["0.01", 1],
    ["0.47", 47],
    ["3.05", 305],
    ["90071992547409.91", 9007199254740991],
  ])("%s → %i", (yuan, fen) => {
    expect(yuanToFen(yuan)).toBe(fen);
  });
  it("beats the float traps it exists for", () => {
    expect(Math.ceil(0.07 * 100)).toBe(8);
    expect(Math.floor(2.01 * 100)).toBe(200);
    expect(yuanToFen("0.07")).toBe(7);
    expect(yuanToFen("2.01")).toBe(201);
  });
  it.each(["0.001", "1.234", "-1", "+1", "1e2", "1E2", " 1", "1 ", "", ".5", "1.", "01", "00.1", "abc", "1,00", "0x10", "Infinity", "NaN", "１", "90071992547409.92", "99999999999999999999"])(
    "%j → MoneyError",
    (bad) => {
      expect(() => yuanToFen(bad)).toThrow(MoneyError);
    },
  );
});

describe("fenToYuan", () => {
  it.each([
    [7, "0.07"],
    [1990, "19.90"],
    [0, "0.00"],
    [100, "1.00"],
    [201, "2.01"],
    [123456789, "1234567.89"],
  ])("%i → %s", (fen, yuan) => {
    expect(fenToYuan(fen)).toBe(yuan);
    expect(yuanToFen(yuan)).toBe(fen);
  });
  it.each([-1, 1.5, NaN, Infinity, 2 ** 53])("%d → MoneyError", (bad) => {
    expect(() => fenToYuan(bad)).toThrow(MoneyError);
  });
});

describe("parseFen", () => {
  it("accepts strict non-negative integers", () => {
    expect(parseFen("0")).toBe(0);
    expect(parseFen("1")).toBe(1);
    expect(parseFen("88")).toBe(88);
    expect(parseFen("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
  });
  it.each(["", "-1", "+1", "1.00", "1.", "1e3", " 1", "1 ", "01", "0x1", "9007199254740992", "abc", "１"])("%j → MoneyError", (bad) => {
    expect(() => parseFen(bad)).toThrow(MoneyError);
  });
});
