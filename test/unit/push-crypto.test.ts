// Proves the mini-program message push crypto (src/miniprogram/push-crypto.ts) against WeChat's
// published message-push samples (URL check, plain push, safe push, encrypted reply), the classic
// WXBizMsgCrypt sample (Token "QDG6eK", via easywechat's tests) and the WxJava and wechatpy vectors,
// all in test/fixtures/miniprogram-push/ (SOURCES.md); then against the node:crypto oracle
// (test/oracle.ts) in both directions, and hostile inputs: each refusal is a typed PushCryptoError.
import { describe, expect, it } from "vitest";
import official from "../fixtures/miniprogram-push/official_message_push.json";
import classic from "../fixtures/miniprogram-push/easywechat_classic_sample.json";
import wxjava from "../fixtures/miniprogram-push/wxjava_wxcryptutil.json";
import wechatpy from "../fixtures/miniprogram-push/wechatpy_test_crypto.json";
import {
  decryptPush,
  encryptPush,
  openSafePush,
  PushCryptoError,
  pushSignature,
  sealReply,
  verifyPushSignature,
  type PushCryptoConfig,
} from "../../src/miniprogram/push-crypto";
import { parseXml, pushDecrypt, pushEncrypt, pushEncryptBlocks, pushSignature as oracleSignature } from "../oracle";

const ascii = (text: string) => new TextEncoder().encode(text);
const configOf = (v: { token: string; encoding_aes_key: string; appid: string }): PushCryptoConfig => ({
  token: v.token,
  encodingAESKey: v.encoding_aes_key,
  appId: v.appid,
});
const OFFICIAL = configOf(official);
const CLASSIC = configOf(classic);

/** The PushCryptoError code a call rejects with, or "ACCEPTED"; anything else (a crash) fails the test. */
async function refusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (err) {
    if (err instanceof PushCryptoError) return err.code;
    throw err;
  }
  return "ACCEPTED";
}

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
/** A copy of `bytes` with `mask` XORed into byte `at`. */
const flip = (bytes: Uint8Array, at: number, mask: number) => {
  const out = bytes.slice();
  out[at] = (out[at] ?? 0) ^ mask;
  return out;
};

describe("WeChat's message push page (Token AAAAA, EncodingAESKey A×43)", () => {
  it("URL check: the documented signature over [Token, timestamp, nonce]", async () => {
    const v = official.url_check;
    const parts = { token: official.token, timestamp: v.timestamp, nonce: v.nonce };
    expect(await pushSignature(parts)).toBe(v.signature);
    expect(oracleSignature([v.joined])).toBe(v.signature); // the page's sorted, joined string
    expect(await verifyPushSignature(parts, v.signature)).toBe(true);
    expect(await verifyPushSignature(parts, v.signature.toUpperCase())).toBe(true);
    expect(await verifyPushSignature({ ...parts, nonce: "1514711493" }, v.signature)).toBe(false);
  });

  it("plain push: the documented signature", async () => {
    const v = official.plain_push;
    const parts = { token: official.token, timestamp: v.timestamp, nonce: v.nonce };
    expect(await pushSignature(parts)).toBe(v.signature);
    expect(oracleSignature([v.joined])).toBe(v.signature);
    expect(await verifyPushSignature(parts, v.signature)).toBe(true);
  });

  it("safe push: msg_signature checks, Encrypt decrypts to the documented message, and re-encrypts exactly", async () => {
    const v = official.safe_push;
    const encrypt = v.body.Encrypt;
    expect(fromBase64(encrypt).length).toBe(v.encrypt_bytes);
    expect(await pushSignature({ token: official.token, timestamp: v.timestamp, nonce: v.nonce, encrypt })).toBe(v.msg_signature);
    // The plain `signature` sent alongside covers only [Token, timestamp, nonce].
    expect(await pushSignature({ token: official.token, timestamp: v.timestamp, nonce: v.nonce })).toBe(v.signature);

    const msg = await openSafePush(OFFICIAL, { msgSignature: v.msg_signature, timestamp: v.timestamp, nonce: v.nonce, encrypt });
    expect(msg).toBe(v.msg);
    expect(new TextEncoder().encode(msg).length).toBe(v.msg_len);
    expect(JSON.parse(msg)).toMatchObject({ Event: "debug_demo", debug_str: "hello world", CreateTime: 1714112445 });
    // 16 + 4 + 167 + 18 = 205 bytes before padding: a pad of 19, which Web Crypto's own unpadding refuses.
    expect(pushDecrypt(encrypt, official.encoding_aes_key)).toMatchObject({ pad: 224 - v.plaintext_bytes, msg: v.msg, appId: official.appid });
    expect(await encryptPush(OFFICIAL, v.msg, ascii(v.random))).toBe(encrypt);
  });

  it("encrypted reply: the documented Encrypt and MsgSignature", async () => {
    const v = official.encrypted_reply;
    const sealed = await sealReply(OFFICIAL, v.msg, { timestamp: v.TimeStamp, nonce: v.Nonce, random: ascii(v.random) });
    expect(sealed).toEqual({ Encrypt: v.Encrypt, MsgSignature: v.MsgSignature, TimeStamp: v.TimeStamp, Nonce: v.Nonce });
    expect(fromBase64(sealed.Encrypt).length).toBe(v.encrypt_bytes);
    expect(oracleSignature(v.sorted)).toBe(v.MsgSignature);
    expect(await decryptPush(OFFICIAL, v.Encrypt)).toBe(v.msg);
  });
});

describe("the classic WXBizMsgCrypt sample (Token QDG6eK), as easywechat tests it", () => {
  it("a message: msg_signature checks and the XML has the asserted fields", async () => {
    const v = classic.message;
    const xml = await openSafePush(CLASSIC, { msgSignature: v.msg_signature, timestamp: v.timestamp, nonce: v.nonce, encrypt: v.Encrypt });
    expect(parseXml(xml)).toEqual(v.decrypted_fields);
  });
  it("the URL verification echostr (encrypted and signed the same way) decrypts to the published echo", async () => {
    const v = classic.url_verify;
    const echo = await openSafePush(CLASSIC, { msgSignature: v.msg_signature, timestamp: v.timestamp, nonce: v.nonce, encrypt: v.echostr });
    expect(echo).toBe(v.decrypted);
  });
});

describe("peer SDK vectors", () => {
  it("WxJava WxCryptUtilTest: encrypt with its fixed random, and back", async () => {
    const config = configOf(wxjava);
    for (const v of wxjava.vectors) {
      expect(await encryptPush(config, v.msg, ascii(wxjava.random))).toBe(v.Encrypt);
      expect(await decryptPush(config, v.Encrypt)).toBe(v.msg);
    }
  });
  it("wechatpy test_crypto: encrypt_message (Encrypt + MsgSignature), decrypt_message, check_signature", async () => {
    const config = configOf(wechatpy);
    const e = wechatpy.encrypt_message;
    expect(await sealReply(config, e.reply, { timestamp: e.timestamp, nonce: e.nonce, random: ascii(e.random) })).toEqual({
      Encrypt: e.Encrypt,
      MsgSignature: e.MsgSignature,
      TimeStamp: e.timestamp,
      Nonce: e.nonce,
    });
    const d = wechatpy.decrypt_message;
    const xml = await openSafePush(config, { msgSignature: d.msg_signature, timestamp: d.timestamp, nonce: d.nonce, encrypt: d.Encrypt });
    expect(parseXml(xml)).toMatchObject(d.asserted);
    const c = wechatpy.check_signature;
    const push = { msgSignature: c.msg_signature, timestamp: c.timestamp, nonce: c.nonce, encrypt: c.echostr };
    expect(await openSafePush(config, push)).toBe(pushDecrypt(c.echostr, wechatpy.encoding_aes_key).msg);
    expect(await refusal(() => openSafePush(config, { ...push, nonce: c.wrong_nonce }))).toBe("BAD_SIGNATURE");
  });
});

const randomBytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Like WeChat's generated keys: 43 arbitrary base64 characters (the last one's unused bits need not be zero). */
const randomKey = () => Array.from(randomBytes(43), (b) => ALPHABET[b % 64]).join("");
const SAMPLES = ["", "success", "我是中文abcd123", "emoji 😀 and a lone ASCII tail", "{\"Event\":\"trade_manage_remind_shipping\"}"];
const randomMessage = (i: number) => {
  const base = SAMPLES[i % SAMPLES.length] as string;
  return base + "x".repeat(i % 64) + String.fromCodePoint(...Array.from(randomBytes(i % 7), (b) => 0x4e00 + b));
};

describe("against the node:crypto oracle", () => {
  it("signatures agree on random parts, with and without Encrypt", async () => {
    for (let i = 0; i < 40; i++) {
      const [token, timestamp, nonce, encrypt] = [randomKey().slice(0, 3 + (i % 30)), String(1e9 + i * 7919), String(randomBytes(4).join("")), toBase64(randomBytes(32 + i))];
      expect(await pushSignature({ token, timestamp, nonce })).toBe(oracleSignature([token, timestamp, nonce]));
      expect(await pushSignature({ token, timestamp, nonce, encrypt })).toBe(oracleSignature([token, timestamp, nonce, encrypt]));
    }
  });

  it("random round trips in both directions, every pad length 1..32, byte-identical ciphertexts", async () => {
    const pads = new Set<number>();
    for (let i = 0; i < 96; i++) {
      const config = { token: "t", encodingAESKey: randomKey(), appId: `wx${toBase64(randomBytes(6)).replace(/[+/=]/g, "a")}` };
      const message = randomMessage(i);
      const random = randomBytes(16);
      const ours = await encryptPush(config, message, random);
      const theirs = pushEncrypt(message, config.encodingAESKey, config.appId, random);
      expect(ours).toBe(theirs);
      const opened = pushDecrypt(ours, config.encodingAESKey);
      expect(opened).toMatchObject({ msg: message, appId: config.appId });
      expect(opened.random).toEqual(random);
      pads.add(opened.pad);
      expect(await decryptPush(config, theirs)).toBe(message);
    }
    // 20 + 0..63 "x" + appid: every residue mod 32, so every WeChat pad value, including 17..32.
    expect([...pads].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
  });
});

/** A hand-made plaintext (header, message, appid, then `padding` as given) encrypted by the oracle. */
function handMade(parts: { msgLen?: number; msg?: string; appId?: string; padding: number[] }): string {
  const msg = ascii(parts.msg ?? "hello");
  const appId = ascii(parts.appId ?? OFFICIAL.appId);
  const body = new Uint8Array(20 + msg.length + appId.length + parts.padding.length);
  body.set(randomBytes(16));
  new DataView(body.buffer).setUint32(16, parts.msgLen ?? msg.length);
  body.set(msg, 20);
  body.set(appId, 20 + msg.length);
  body.set(parts.padding, 20 + msg.length + appId.length);
  return pushEncryptBlocks(body, OFFICIAL.encodingAESKey);
}
// "hello" + the 18-byte appid = 43 bytes of body: 21 bytes of padding make 64.
const fill = (n: number, value = n) => new Array<number>(n).fill(value);

describe("hostile input: typed errors, never a crash", () => {
  const v = official.safe_push;
  const genuine = { msgSignature: v.msg_signature, timestamp: v.timestamp, nonce: v.nonce, encrypt: v.body.Encrypt };

  it("wrong token, tampered or missing signature parts → BAD_SIGNATURE", async () => {
    expect(await refusal(() => openSafePush({ ...OFFICIAL, token: "AAAAB" }, genuine))).toBe("BAD_SIGNATURE");
    expect(await refusal(() => openSafePush({ ...OFFICIAL, token: "" }, genuine))).toBe("BAD_SIGNATURE");
    const flipped = v.msg_signature.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    for (const msgSignature of [flipped, v.msg_signature.slice(1), `${v.msg_signature}0`, "z".repeat(40), "", null, undefined, 42]) {
      expect(await refusal(() => openSafePush(OFFICIAL, { ...genuine, msgSignature }))).toBe("BAD_SIGNATURE");
    }
    for (const missing of ["timestamp", "nonce", "encrypt"] as const) {
      expect(await refusal(() => openSafePush(OFFICIAL, { ...genuine, [missing]: null }))).toBe("BAD_SIGNATURE");
    }
    // The plain signature is no msg_signature: it does not cover Encrypt.
    expect(await refusal(() => openSafePush(OFFICIAL, { ...genuine, msgSignature: v.signature }))).toBe("BAD_SIGNATURE");
  });

  it("an empty token is never accepted, even with a signature made with it", async () => {
    const parts = { token: "", timestamp: "1", nonce: "2" };
    expect(await verifyPushSignature(parts, await pushSignature(parts))).toBe(false);
  });

  it("tampered Encrypt (a byte flipped in each block): BAD_SIGNATURE; decrypted anyway, never the genuine message", async () => {
    const bytes = fromBase64(genuine.encrypt);
    for (let block = 0; block < bytes.length / 16; block++) {
      const encrypt = toBase64(flip(bytes, block * 16 + 5, 0x01));
      expect(await refusal(() => openSafePush(OFFICIAL, { ...genuine, encrypt }))).toBe("BAD_SIGNATURE");
      // Without the signature, CBC is malleable: a flip may yield an altered message, which is why
      // openSafePush checks msg_signature first. It must still be a typed error or a different text.
      let outcome: string;
      try {
        outcome = await decryptPush(OFFICIAL, encrypt);
      } catch (err) {
        expect(err).toBeInstanceOf(PushCryptoError);
        continue;
      }
      expect(outcome).not.toBe(v.msg);
    }
    // The last block carries the padding: flipping it garbles the pad.
    expect(await refusal(() => decryptPush(OFFICIAL, toBase64(flip(bytes, bytes.length - 1, 0x80))))).toBe("BAD_PADDING");
  });

  it("padding: 0, 33, inconsistent → BAD_PADDING; 21 and a full block of 32 are fine", async () => {
    expect(await decryptPush(OFFICIAL, handMade({ padding: fill(21) }))).toBe("hello");
    // 20 + 57 + 18 = 95 bytes: a pad of 1; 20 + 26 + 18 = 64: a whole block of 32.
    expect(await decryptPush(OFFICIAL, handMade({ msg: "x".repeat(57), padding: fill(1) }))).toBe("x".repeat(57));
    expect(await decryptPush(OFFICIAL, handMade({ msg: "x".repeat(26), padding: fill(32) }))).toBe("x".repeat(26));
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ padding: fill(21, 0) })))).toBe("BAD_PADDING");
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ padding: fill(21, 33) })))).toBe("BAD_PADDING");
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ msg: "x".repeat(26), padding: fill(32, 33) })))).toBe("BAD_PADDING");
    // Inconsistent: the last byte says 21, one byte of those 21 says otherwise (next to it, or the farthest).
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ padding: [...fill(19, 21), 7, 21] })))).toBe("BAD_PADDING");
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ padding: [20, ...fill(20, 21)] })))).toBe("BAD_PADDING");
  });

  it("msg_len beyond the plaintext, or a plaintext shorter than its header → BAD_LENGTH", async () => {
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ msgLen: 24, padding: fill(21) })))).toBe("BAD_LENGTH");
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ msgLen: 0xffffffff, padding: fill(21) })))).toBe("BAD_LENGTH");
    // msg_len swallowing the appid leaves no appid: not ours.
    expect(await refusal(() => decryptPush(OFFICIAL, handMade({ msgLen: 23, padding: fill(21) })))).toBe("APPID_MISMATCH");
    // 32 bytes with a pad of 20: 12 bytes left, less than random(16) + msg_len(4).
    const short = pushEncryptBlocks(new Uint8Array(32).fill(20), OFFICIAL.encodingAESKey);
    expect(await refusal(() => decryptPush(OFFICIAL, short))).toBe("BAD_LENGTH");
  });

  it("ciphertext not a positive multiple of 32 bytes → BAD_LENGTH", async () => {
    for (const n of [16, 31, 48, 33]) {
      expect(await refusal(() => decryptPush(OFFICIAL, toBase64(randomBytes(n))))).toBe("BAD_LENGTH");
    }
  });

  it("another appid → APPID_MISMATCH", async () => {
    for (const appId of ["wx5823bf96d3bd56c7", `${OFFICIAL.appId}x`, OFFICIAL.appId.slice(0, -1), OFFICIAL.appId.toUpperCase()]) {
      expect(await refusal(() => decryptPush(OFFICIAL, pushEncrypt("hello", OFFICIAL.encodingAESKey, appId, randomBytes(16))))).toBe("APPID_MISMATCH");
    }
    expect(await refusal(() => decryptPush({ ...OFFICIAL, appId: "" }, genuine.encrypt))).toBe("APPID_MISMATCH");
  });

  it("a message that is not UTF-8 → BAD_UTF8", async () => {
    const body = new Uint8Array(20 + 2 + 18 + 24);
    new DataView(body.buffer).setUint32(16, 2);
    body.set([0xc3, 0x28], 20);
    body.set(ascii(OFFICIAL.appId), 22);
    body.fill(24, 40);
    expect(await refusal(() => decryptPush(OFFICIAL, pushEncryptBlocks(body, OFFICIAL.encodingAESKey)))).toBe("BAD_UTF8");
  });

  it("an EncodingAESKey that is not 43 base64 characters → BAD_KEY, for decrypt and encrypt", async () => {
    const key = OFFICIAL.encodingAESKey;
    for (const encodingAESKey of [key.slice(0, 42), `${key}A`, `${key}=`, `${key.slice(0, 42)}=`, `${key.slice(0, 42)}-`, `${key.slice(0, 42)}_`, "", " ".repeat(43)]) {
      expect(await refusal(() => decryptPush({ ...OFFICIAL, encodingAESKey }, genuine.encrypt))).toBe("BAD_KEY");
      expect(await refusal(() => encryptPush({ ...OFFICIAL, encodingAESKey }, "x", randomBytes(16)))).toBe("BAD_KEY");
    }
  });

  it("Encrypt that is not canonical base64 → BAD_BASE64", async () => {
    const canonical = genuine.encrypt; // ends in "4=": the last character's unused bits are zero
    const loose = `${canonical.slice(0, -2)}5=`; // the same bytes with a non-zero unused bit
    for (const encrypt of ["", "not base64!", "abc", "====", "QUJD\n", " QUJD", "QUJD-_==", `${canonical} `, loose]) {
      expect(await refusal(() => decryptPush(OFFICIAL, encrypt))).toBe("BAD_BASE64");
    }
  });

  it("no error message carries the key, the token or the plaintext", async () => {
    const secretish = [OFFICIAL.encodingAESKey, OFFICIAL.token, "hello"];
    const attempts = [
      decryptPush({ ...OFFICIAL, encodingAESKey: `${OFFICIAL.encodingAESKey}A` }, genuine.encrypt),
      decryptPush(OFFICIAL, handMade({ padding: fill(21, 0) })),
      decryptPush(OFFICIAL, handMade({ msgLen: 24, padding: fill(21) })),
      decryptPush({ ...OFFICIAL, appId: "wx0000000000000000" }, handMade({ padding: fill(21) })),
      openSafePush({ ...OFFICIAL, token: "AAAAB" }, genuine),
    ];
    for (const attempt of attempts) {
      const err = await attempt.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PushCryptoError);
      for (const s of secretish) expect(String((err as Error).message)).not.toContain(s);
    }
  });

  it("encryptPush wants exactly 16 random bytes", async () => {
    await expect(encryptPush(OFFICIAL, "x", randomBytes(15))).rejects.toThrow(RangeError);
    await expect(encryptPush(OFFICIAL, "x", randomBytes(17))).rejects.toThrow(RangeError);
  });
});
