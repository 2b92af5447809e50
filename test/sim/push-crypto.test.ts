// The simulator's message-push crypto (sim/pushcrypto.ts) pinned to the official message-push sample
// and to wechatpy's vectors (test/fixtures/wechat-miniprogram-push/).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decryptPush, encryptPush, isEncodingAesKey, pushAesKey, pushSignature } from "../../sim/pushcrypto.ts";

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/wechat-miniprogram-push/${name}`, import.meta.url), "utf8"));
const doc = fixture("message_push_official_doc.json");
const wechatpy = fixture("crypto_wechatpy.json");

describe("the official message-push sample (Token AAAAA, EncodingAESKey A×43, wxba5fad812f8e6fb9)", () => {
  it("signature: URL verification, plain mode and the safe mode's URL signature", () => {
    const v = doc.url_verification.query;
    expect(pushSignature(doc.token, v.timestamp, v.nonce)).toBe(v.signature);
    const p = doc.plain_mode.query;
    expect(pushSignature(doc.token, p.timestamp, p.nonce)).toBe(p.signature);
    const q = doc.safe_mode.query;
    expect(pushSignature(doc.token, q.timestamp, q.nonce)).toBe(q.signature);
    // argument order does not matter: the parts are sorted first
    expect(pushSignature(v.nonce, doc.token, v.timestamp)).toBe(v.signature);
  });

  it("msg_signature covers the Encrypt too", () => {
    const q = doc.safe_mode.query;
    expect(pushSignature(doc.token, q.timestamp, q.nonce, doc.safe_mode.body.Encrypt)).toBe(q.msg_signature);
    expect(pushSignature(doc.token, q.timestamp, q.nonce)).not.toBe(q.msg_signature);
  });

  it("decrypts the published Encrypt to the published random, message and appid", () => {
    const d = doc.safe_mode.decrypted;
    expect(Buffer.from(doc.safe_mode.body.Encrypt, "base64")).toHaveLength(d.ciphertext_bytes);
    const out = decryptPush(doc.safe_mode.body.Encrypt, doc.safe_mode.encoding_aes_key);
    expect(out.random.toString("utf8")).toBe(d.random);
    expect(Buffer.byteLength(out.msg)).toBe(d.msg_len);
    expect(out.msg).toBe(d.msg);
    expect(out.appId).toBe(d.appid);
    expect(20 + d.msg_len + out.appId.length).toBe(d.fullstr_bytes);
  });

  it("encrypts the published reply byte for byte with the published random (padding to 32, not 16)", () => {
    const r = doc.encrypted_reply;
    const enc = encryptPush(r.msg, doc.safe_mode.appid, doc.safe_mode.encoding_aes_key, Buffer.from(r.random, "utf8"));
    expect(enc).toBe(r.Encrypt);
    expect(Buffer.from(enc, "base64")).toHaveLength(r.tmpmsg_bytes); // 63 bytes + 1 byte of padding
    expect(pushSignature(doc.token, String(r.TimeStamp), r.Nonce, enc)).toBe(r.MsgSignature);
  });

  it("a random prefix by default: two encryptions differ, both decrypt", () => {
    const key = doc.safe_mode.encoding_aes_key;
    const a = encryptPush("{}", "wxapp", key);
    const b = encryptPush("{}", "wxapp", key);
    expect(a).not.toBe(b);
    expect([decryptPush(a, key).msg, decryptPush(b, key).appId]).toEqual(["{}", "wxapp"]);
  });
});

describe("wechatpy's vectors (tests/test_crypto.py, same algorithm with a corp_id)", () => {
  it("encrypt_message with the mocked random gives the expected Encrypt and MsgSignature", () => {
    const e = wechatpy.encrypt;
    const enc = encryptPush(e.msg, wechatpy.appid, wechatpy.encoding_aes_key, Buffer.from(e.random, "utf8"));
    expect(enc).toBe(e.Encrypt);
    expect(pushSignature(wechatpy.token, e.timestamp, e.nonce, enc)).toBe(e.MsgSignature);
  });

  it("decrypt_message: signature checks and the plaintext carries the asserted fields", () => {
    const d = wechatpy.decrypt;
    expect(pushSignature(wechatpy.token, d.timestamp, d.nonce, d.Encrypt)).toBe(d.signature);
    const out = decryptPush(d.Encrypt, wechatpy.encoding_aes_key);
    expect(out.appId).toBe(wechatpy.appid);
    expect(out.msg).toContain(`<Content><![CDATA[${d.asserted.Content}]]></Content>`);
    expect(out.msg).toContain(`<FromUserName><![CDATA[${d.asserted.FromUserName}]]></FromUserName>`);
  });

  it("check_signature over the echostr", () => {
    const c = wechatpy.check_signature;
    expect(pushSignature(wechatpy.token, c.timestamp, c.nonce, c.echostr)).toBe(c.signature);
    expect(pushSignature(wechatpy.token, c.timestamp, "437374424", c.echostr)).not.toBe(c.signature);
  });
});

describe("refusals", () => {
  it("EncodingAESKey: exactly 43 base64 characters", () => {
    expect(isEncodingAesKey(doc.safe_mode.encoding_aes_key)).toBe(true);
    expect(isEncodingAesKey(wechatpy.encoding_aes_key)).toBe(true);
    for (const bad of ["A".repeat(42), "A".repeat(44), "A".repeat(42) + "=", "A".repeat(42) + "-", 43, null]) expect(isEncodingAesKey(bad)).toBe(false);
    expect(() => pushAesKey("short")).toThrow(/43/);
    expect(() => encryptPush("x", "wx", doc.safe_mode.encoding_aes_key, Buffer.alloc(15))).toThrow(/16 bytes/);
  });

  it("a wrong key, a cut ciphertext or a non-base64 body does not decrypt", () => {
    const enc = doc.safe_mode.body.Encrypt as string;
    expect(() => decryptPush(enc, wechatpy.encoding_aes_key)).toThrow();
    expect(() => decryptPush(enc.slice(0, 20), doc.safe_mode.encoding_aes_key)).toThrow(/blocks/);
    expect(() => decryptPush("", doc.safe_mode.encoding_aes_key)).toThrow(/blocks/);
  });
});
