// Proves nonces and merchant numbers have the right length and charset, vary between calls, and
// that out_trade_no / out_refund_no carry the Beijing timestamp prefix and fit WeChat's limits.
import { describe, expect, it } from "vitest";
import { isValidOutTradeNo, newOutRefundNo, newOutTradeNo, nonceStr } from "../../src/wechatpay/ids";

describe("nonceStr", () => {
  it("is 32 alphanumerics by default and honours the length", () => {
    expect(nonceStr()).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(nonceStr(16)).toMatch(/^[0-9A-Za-z]{16}$/);
    expect(nonceStr(1)).toMatch(/^[0-9A-Za-z]$/);
  });
  it("does not repeat and uses the whole alphabet", () => {
    const many = Array.from({ length: 200 }, () => nonceStr());
    expect(new Set(many).size).toBe(200);
    const chars = new Set(many.join(""));
    expect(chars.size).toBe(62); // 6400 draws from 62 symbols: all appear
  });
  it("refuses silly lengths", () => {
    expect(() => nonceStr(0)).toThrow(RangeError);
    expect(() => nonceStr(1.5)).toThrow(RangeError);
  });
});

describe("merchant numbers", () => {
  const now = new Date("2024-03-10T16:00:00Z"); // 2024-03-11 00:00:00 Beijing
  it("out_trade_no = Beijing yyyyMMddHHmmss + 12 alphanumerics", () => {
    const no = newOutTradeNo(now);
    expect(no).toMatch(/^20240311000000[0-9A-Za-z]{12}$/);
    expect(no.length).toBeLessThanOrEqual(32);
    expect(isValidOutTradeNo(no)).toBe(true);
    expect(newOutTradeNo(now)).not.toBe(no);
  });
  it("out_refund_no = R + Beijing timestamp + 12 alphanumerics", () => {
    const no = newOutRefundNo(now);
    expect(no).toMatch(/^R20240311000000[0-9A-Za-z]{12}$/);
    expect(no.length).toBeLessThanOrEqual(64);
  });
  it("defaults to the current time", () => {
    expect(newOutTradeNo()).toMatch(/^20\d{12}[0-9A-Za-z]{12}$/);
  });
  it("isValidOutTradeNo", () => {
    expect(isValidOutTradeNo("1415659990")).toBe(true);
    expect(isValidOutTradeNo("a_b-C")).toBe(true);
    expect(isValidOutTradeNo("x".repeat(32))).toBe(true);
    for (const bad of ["", "x".repeat(33), "a b", "订单1", "a|b", "a*b", "a@b", "a/b"]) {
      expect(isValidOutTradeNo(bad)).toBe(false);
    }
  });
});
