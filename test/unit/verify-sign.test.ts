// Catalogue rows B21-B27 at verifier level, plus key rotation and timingSafeEqual: verifySign never
// throws, refuses missing/short/long/non-hex signs, pins the algorithm against the message's own
// sign_type, signs unknown fields, ignores empty ones, and rejects any post-signing change.
import { describe, expect, it } from "vitest";
import { timingSafeEqual, verifySign, type Fields } from "../../src/wechatpay/sign";
import { DOC_KEY, signWechat } from "./helpers";

const NOTIFY: Fields = {
  appid: "wxd930ea5d5a258f4f",
  mch_id: "10000100",
  nonce_str: "5d2b6c2a8db53831f7eda20af46e531c",
  out_trade_no: "20150806125346",
  result_code: "SUCCESS",
  return_code: "SUCCESS",
  total_fee: "1",
  transaction_id: "1004400740201409030005092168",
};

describe("verifySign", () => {
  it("accepts a correctly signed message (MD5 and HMAC)", async () => {
    expect(await verifySign(await signWechat(NOTIFY), [DOC_KEY], "MD5")).toBe(true);
    expect(await verifySign(await signWechat(NOTIFY, DOC_KEY, "HMAC-SHA256"), [DOC_KEY], "HMAC-SHA256")).toBe(true);
  });

  it("B21: missing or empty sign → false", async () => {
    expect(await verifySign(NOTIFY, [DOC_KEY], "MD5")).toBe(false);
    expect(await verifySign({ ...NOTIFY, sign: "" }, [DOC_KEY], "MD5")).toBe(false);
  });

  it("B22: one hex digit off → false", async () => {
    const signed = await signWechat(NOTIFY);
    const s = signed.sign!;
    const flipped = s.slice(0, -1) + (s.endsWith("0") ? "1" : "0");
    expect(await verifySign({ ...signed, sign: flipped }, [DOC_KEY], "MD5")).toBe(false);
  });

  it("B23: MD5 sign under pinned HMAC → false; sign_type=MD5 field under pinned HMAC → false", async () => {
    expect(await verifySign(await signWechat(NOTIFY, DOC_KEY, "MD5"), [DOC_KEY], "HMAC-SHA256")).toBe(false);
    // Even a genuinely MD5-signed message that declares sign_type=MD5 is refused when HMAC is pinned.
    const declared = await signWechat({ ...NOTIFY, sign_type: "MD5" }, DOC_KEY, "MD5");
    expect(await verifySign(declared, [DOC_KEY], "HMAC-SHA256")).toBe(false);
    expect(await verifySign(declared, [DOC_KEY], "MD5")).toBe(true);
    // A message declaring HMAC while MD5 is pinned is refused too.
    const hmacDeclared = await signWechat({ ...NOTIFY, sign_type: "HMAC-SHA256" }, DOC_KEY, "HMAC-SHA256");
    expect(await verifySign(hmacDeclared, [DOC_KEY], "MD5")).toBe(false);
    expect(await verifySign(hmacDeclared, [DOC_KEY], "HMAC-SHA256")).toBe(true);
  });

  it("B24: extra unknown field included in the signature → valid", async () => {
    const signed = await signWechat({ ...NOTIFY, new_field: "x" });
    expect(await verifySign(signed, [DOC_KEY], "MD5")).toBe(true);
    // and dropping it afterwards breaks the signature (the verifier signs what it received)
    const { new_field: _dropped, ...rest } = signed;
    expect(await verifySign(rest, [DOC_KEY], "MD5")).toBe(false);
  });

  it("B25: value changed after signing → invalid", async () => {
    const signed = await signWechat(NOTIFY);
    expect(await verifySign({ ...signed, total_fee: "100" }, [DOC_KEY], "MD5")).toBe(false);
    expect(await verifySign({ ...signed, total_fee: "1 " }, [DOC_KEY], "MD5")).toBe(false);
    expect(await verifySign({ ...signed, total_fee: "01" }, [DOC_KEY], "MD5")).toBe(false);
  });

  it("B26: empty-valued field excluded from signing → valid", async () => {
    const signed = await signWechat(NOTIFY);
    expect(await verifySign({ ...signed, attach: "" }, [DOC_KEY], "MD5")).toBe(true);
  });

  it("B27: 63/65-char, non-hex and odd signs → false without throwing", async () => {
    const signed = await signWechat(NOTIFY, DOC_KEY, "HMAC-SHA256");
    const s = signed.sign!;
    for (const bad of [s.slice(0, 63), s + "A", "G".repeat(64), "z".repeat(32), " ".repeat(64), s.slice(0, 32)]) {
      await expect(verifySign({ ...signed, sign: bad }, [DOC_KEY], "HMAC-SHA256")).resolves.toBe(false);
    }
    const md5 = (await signWechat(NOTIFY)).sign!;
    for (const bad of [md5.slice(0, 31), md5 + "0", "X".repeat(32)]) {
      await expect(verifySign({ ...NOTIFY, sign: bad }, [DOC_KEY], "MD5")).resolves.toBe(false);
    }
  });

  it("accepts a lowercase sign (WeChat compares case-insensitively)", async () => {
    const signed = await signWechat(NOTIFY);
    expect(await verifySign({ ...signed, sign: signed.sign!.toLowerCase() }, [DOC_KEY], "MD5")).toBe(true);
  });

  it("key rotation: previous key accepted, unknown key refused, empty key ignored", async () => {
    const OLD = "0123456789abcdef0123456789abcdef";
    const signedOld = await signWechat(NOTIFY, OLD);
    expect(await verifySign(signedOld, [DOC_KEY, OLD], "MD5")).toBe(true);
    expect(await verifySign(signedOld, [DOC_KEY], "MD5")).toBe(false);
    expect(await verifySign(await signWechat(NOTIFY, ""), [""], "MD5")).toBe(false);
    expect(await verifySign(signedOld, [], "MD5")).toBe(false);
  });

  it("an unknown pinned type is refused, not thrown", async () => {
    const signed = await signWechat(NOTIFY);
    await expect(verifySign(signed, [DOC_KEY], "SHA1" as never)).resolves.toBe(false);
  });
});

describe("timingSafeEqual", () => {
  it("compares equal-length strings and refuses different lengths", () => {
    expect(timingSafeEqual("ABCDEF", "ABCDEF")).toBe(true);
    expect(timingSafeEqual("ABCDEF", "ABCDEE")).toBe(false);
    expect(timingSafeEqual("ABCDEF", "ABCDE")).toBe(false);
    expect(timingSafeEqual("", "")).toBe(true);
  });
});
