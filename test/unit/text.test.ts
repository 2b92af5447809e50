// truncateUtf8: WeChat's byte limits (body 127, refund_desc 80) cut on a character boundary.
import { describe, expect, it } from "vitest";
import { truncateUtf8 } from "../../src/wechatpay/text";

const bytes = (s: string) => new TextEncoder().encode(s).length;

describe("truncateUtf8", () => {
  it("keeps text that fits, byte for byte", () => {
    expect(truncateUtf8("Oolong tea 250g", 127)).toBe("Oolong tea 250g");
    expect(truncateUtf8("a".repeat(127), 127)).toBe("a".repeat(127));
  });

  it("cuts CJK (3 bytes) and emoji (4 bytes) without splitting a character", () => {
    const cut = truncateUtf8("腾".repeat(50), 127); // 150 bytes
    expect(cut).toBe("腾".repeat(42)); // 126 bytes: a 43rd character would need 129
    expect(bytes(cut)).toBe(126);
    const emoji = truncateUtf8(`${"a".repeat(125)}😀`, 127);
    expect(emoji).toBe("a".repeat(125));
  });
});
