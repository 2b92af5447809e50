// HMAC-SHA256 keys are imported once per isolate: importKey costs more than the MAC of a whole
// notification, so signing and verifying reuse the CryptoKey (and still produce the vector's value).
import { afterEach, describe, expect, it, vi } from "vitest";
import { sign, verifySign, type Fields } from "../../src/wechatpay/sign";
import { signWechat } from "../integration/harness";

const FIELDS: Fields = { appid: "wxd930ea5d5a258f4f", mch_id: "10000100", nonce_str: "ibuaiVcKdpRxkhJA", body: "test" };

afterEach(() => vi.restoreAllMocks());

describe("HMAC key cache", () => {
  it("imports a key once however often it signs and verifies, and signs correctly every time", async () => {
    const key = "cachedkey0123456789abcdef0123456";
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const signs = [];
    for (let i = 0; i < 5; i++) signs.push(await sign(FIELDS, key, "HMAC-SHA256"));
    const signed = { ...FIELDS, sign: signs[0]! };
    for (let i = 0; i < 5; i++) expect(await verifySign(signed, [key], "HMAC-SHA256")).toBe(true);
    expect(importKey).toHaveBeenCalledTimes(1);
    expect(new Set(signs)).toEqual(new Set([signWechat(FIELDS, key, "HMAC-SHA256")]));
  });

  it("a second key gets its own CryptoKey (a rotation verifies with both, never mixing them up)", async () => {
    const [current, previous] = ["currentkey0123456789abcdef012345", "previouskey123456789abcdef012345"];
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const byPrevious = { ...FIELDS, sign: signWechat(FIELDS, previous, "HMAC-SHA256") };
    expect(await verifySign(byPrevious, [current, previous], "HMAC-SHA256")).toBe(true);
    expect(await verifySign(byPrevious, [current], "HMAC-SHA256")).toBe(false);
    expect(await verifySign(byPrevious, [current, previous], "HMAC-SHA256")).toBe(true);
    expect(importKey).toHaveBeenCalledTimes(2);
  });
});
