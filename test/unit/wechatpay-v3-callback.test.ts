// v3 notifications end to end in the core (src/wechatpay/v3/callback.ts): every accept and reject
// case of callbacks.computed.json through openCallback (verify → envelope → decrypt → typed
// transaction or refund), the Go SDK's callback, strict field checks on resources signed and
// encrypted here as WeChat would, and the reply helpers.
import { describe, expect, it } from "vitest";
import callbacks from "../fixtures/wechatpay-v3/callbacks.computed.json";
import goCallback from "../fixtures/wechatpay-v3/callback-go-sdk.stated.json";
import { openAesGcm } from "../../src/wechatpay/v3/aead";
import { callbackAck, callbackRefusal, openCallback, readEnvelope } from "../../src/wechatpay/v3/callback";
import { importWechatPayPublicKey, V3KeyError } from "../../src/wechatpay/v3/pem";
import { atSeconds, headersOf, keyFile, wechatEncrypt, wechatSign } from "./wechatpay-v3-fixtures";

const trust = new Map<string, CryptoKey>();
for (const [serial, file] of Object.entries(callbacks.trust_store)) trust.set(serial, await importWechatPayPublicKey(keyFile(file)));
const now = atSeconds(callbacks.now);
const apiV3Key = callbacks.apiv3_key;
const WECHAT_KEY = keyFile("keys/java-sdk.wechat_pay_private_key.pem");
const PUB_KEY_ID = "PUB_KEY_ID_0100000000000000000000000000000001";

/** A notification as WeChat would send it: `resource` encrypted with the APIv3 key, the body signed. */
async function forge(eventType: string, resource: unknown, opts: { originalType?: string; envelope?: Record<string, unknown> } = {}) {
  const nonce = "fB3kQz9LmN2p";
  const plaintext = typeof resource === "string" ? resource : JSON.stringify(resource);
  const body = JSON.stringify({
    id: "EV-forged", create_time: "2025-12-02T16:00:01+08:00", resource_type: "encrypt-resource", event_type: eventType, summary: "s",
    resource: { original_type: opts.originalType ?? (eventType.startsWith("REFUND") ? "refund" : "transaction"), algorithm: "AEAD_AES_256_GCM", ciphertext: await wechatEncrypt(apiV3Key, nonce, "x", plaintext), associated_data: "x", nonce },
    ...opts.envelope,
  });
  return signed(body);
}

async function signed(body: string) {
  const ts = String(callbacks.now);
  const headers = new Headers({ "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": "n0nce", "Wechatpay-Serial": PUB_KEY_ID, "Wechatpay-Signature": await wechatSign(WECHAT_KEY, `${ts}\nn0nce\n${body}\n`) });
  return { headers, body };
}

const accepted = JSON.parse(callbacks.accept.transaction_success_public_key_mode.expected_plaintext) as Record<string, unknown>;
const refund = JSON.parse(callbacks.accept.refund_success_public_key_mode.expected_plaintext) as Record<string, unknown>;

describe("callbacks.computed.json through openCallback", () => {
  it("TRANSACTION.SUCCESS in public-key mode → the typed transaction", async () => {
    const v = callbacks.accept.transaction_success_public_key_mode;
    const result = await openCallback({ headers: headersOf(v.headers), body: v.body, trust, apiV3Key, now });
    expect(result).toEqual({
      ok: true,
      serial: PUB_KEY_ID,
      event: {
        kind: "transaction", id: "EV-0000000000000000000001", eventType: "TRANSACTION.SUCCESS", createTime: "2025-12-02T16:00:01+08:00",
        transaction: {
          appid: "wxd678efh567hg6787", mchid: "1230000109", out_trade_no: "1217752501201407033233368018", transaction_id: "4200000000202512020000000001",
          trade_state: "SUCCESS", trade_state_desc: "支付成功", trade_type: "JSAPI", success_time: "2025-12-02T16:00:00+08:00", attach: "自定义数据说明",
          payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" }, amount: { total: 100, payer_total: 100, currency: "CNY", payer_currency: "CNY" },
        },
      },
    });
  });

  it("TRANSACTION.SUCCESS in platform-certificate mode, through the same (migrating) trust store", async () => {
    const v = callbacks.accept.transaction_success_platform_cert_mode;
    const result = await openCallback({ headers: headersOf(v.headers), body: v.body, trust, apiV3Key, now });
    expect(result).toMatchObject({ ok: true, serial: "440024045C4A427599D09BB4E3DE0279F2E813FD", event: { kind: "transaction", id: "EV-0000000000000000000002" } });
  });

  it("REFUND.SUCCESS → the typed refund (status read from refund_status)", async () => {
    const v = callbacks.accept.refund_success_public_key_mode;
    const result = await openCallback({ headers: headersOf(v.headers), body: v.body, trust, apiV3Key, now });
    expect(result).toMatchObject({
      ok: true,
      event: {
        kind: "refund", eventType: "REFUND.SUCCESS",
        refund: { out_refund_no: "1217752501201407033233368018R1", refund_id: "50300000000000000000000000001", status: "SUCCESS", success_time: "2025-12-02T16:05:00+08:00", amount: { refund: 100, total: 100, payer_refund: 100, payer_total: 100 } },
      },
    });
  });

  const expected: Record<string, object> = {
    "signtest-probe": { stage: "verify", reason: "probe" },
    "signtest-probe-real-shape": { stage: "verify", reason: "probe" },
    "body-one-byte-changed": { stage: "verify", reason: "bad_signature" },
    "body-reserialized": { stage: "verify", reason: "bad_signature" },
    "unknown-serial": { stage: "verify", reason: "unknown_serial", serial: "PUB_KEY_ID_0199999999999999999999999999999999" },
    "stale-timestamp": { stage: "verify", reason: "stale" },
    "wrong-apiv3-key": { stage: "decrypt", reason: "auth_failed" },
  };
  for (const v of callbacks.reject) {
    if (v.id === "serial-swapped") {
      it("serial-swapped: accepted (both ids name the same key here: the id only selects the key)", async () => {
        const result = await openCallback({ headers: headersOf(v.headers), body: v.body, trust, apiV3Key, now });
        expect(result).toMatchObject({ ok: true, serial: PUB_KEY_ID, event: { kind: "transaction" } });
      });
      continue;
    }
    it(`${v.id} → refused at ${JSON.stringify(expected[v.id])}`, async () => {
      const at = "now" in v && v.now ? atSeconds(v.now) : now;
      const key = "apiv3_key" in v && v.apiv3_key ? v.apiv3_key : apiV3Key;
      const result = await openCallback({ headers: headersOf(v.headers), body: v.body, trust, apiV3Key: key, now: at });
      expect(result).toMatchObject({ ok: false, ...expected[v.id] });
    });
  }

  it("an APIv3 key that is not 32 characters is a configuration error, not a refusal", async () => {
    const v = callbacks.accept.transaction_success_public_key_mode;
    await expect(openCallback({ headers: headersOf(v.headers), body: v.body, trust, apiV3Key: "testMchAPIv3Key0", now })).rejects.toThrow(V3KeyError);
  });
});

describe("the Go SDK's callback (callback-go-sdk.stated.json)", () => {
  const goTrust = new Map<string, CryptoKey>();
  it("verifies, reads the envelope and is an event this service acknowledges and ignores", async () => {
    goTrust.set("D7CE59D1F522D701", await importWechatPayPublicKey(keyFile(goCallback.verify_with)));
    const result = await openCallback({ headers: headersOf(goCallback.headers), body: goCallback.body, trust: goTrust, apiV3Key, now: atSeconds(goCallback.now) });
    expect(result).toEqual({ ok: true, serial: "D7CE59D1F522D701", event: { kind: "other", id: goCallback.expected_envelope.id, eventType: "PAYSCORE.USER_OPEN_SERVICE", createTime: goCallback.expected_envelope.create_time } });
    expect(readEnvelope(goCallback.body)).toMatchObject(goCallback.expected_envelope);
  });
  it("its resource opens with its 16-byte key (AES-128-GCM) to the stated plaintext", async () => {
    const r = readEnvelope(goCallback.body).resource;
    expect(await openAesGcm(goCallback.apiv3_key, r.nonce, r.associated_data ?? "", r.ciphertext)).toEqual({ ok: true, plaintext: goCallback.expected_plaintext });
  });
});

describe("strict fields in verified, decrypted resources", () => {
  const open = async (n: { headers: Headers; body: string }) => openCallback({ ...n, trust, apiV3Key, now });
  const badTransactions: [string, Record<string, unknown>][] = [
    ["amount.total as a string", { ...accepted, amount: { ...(accepted.amount as object), total: "100" } }],
    ["amount.total not an integer", { ...accepted, amount: { ...(accepted.amount as object), total: 100.5 } }],
    ["negative payer_total", { ...accepted, amount: { ...(accepted.amount as object), payer_total: -1 } }],
    ["no transaction_id", { ...accepted, transaction_id: undefined }],
    ["no payer", { ...accepted, payer: undefined }],
    ["openid a number", { ...accepted, payer: { openid: 7 } }],
    ["out_trade_no empty", { ...accepted, out_trade_no: "" }],
    ["trade_state unknown", { ...accepted, trade_state: "PAID" }],
    ["trade_state NOTPAY in a SUCCESS event", { ...accepted, trade_state: "NOTPAY" }],
    ["success_time not RFC 3339", { ...accepted, success_time: "2025-12-02 16:00:00" }],
    ["success_time impossible", { ...accepted, success_time: "2025-02-30T16:00:00+08:00" }],
  ];
  for (const [name, resource] of badTransactions) {
    it(`TRANSACTION.SUCCESS with ${name} → resource malformed`, async () => {
      expect(await open(await forge("TRANSACTION.SUCCESS", resource))).toMatchObject({ ok: false, stage: "resource", reason: "malformed" });
    });
  }
  it("a well-formed forged transaction is accepted (the cases above fail for their one change)", async () => {
    expect(await open(await forge("TRANSACTION.SUCCESS", accepted))).toMatchObject({ ok: true, event: { kind: "transaction" } });
  });

  const refundCases: [string, string, Record<string, unknown>, boolean][] = [
    ["REFUND.SUCCESS", "SUCCESS", refund, true],
    ["REFUND.CLOSED", "CLOSED", { ...refund, refund_status: "CLOSED", success_time: undefined }, true],
    ["REFUND.ABNORMAL", "ABNORMAL", { ...refund, refund_status: "ABNORMAL", success_time: undefined }, true],
    ["REFUND.SUCCESS", "PROCESSING (status mismatch)", { ...refund, refund_status: "PROCESSING" }, false],
    ["REFUND.SUCCESS", "`status` instead of `refund_status`", { ...refund, refund_status: undefined, status: "SUCCESS" }, false],
    ["REFUND.SUCCESS", "refund above total", { ...refund, amount: { total: 100, refund: 101 } }, false],
    ["REFUND.SUCCESS", "refund as a float", { ...refund, amount: { total: 100, refund: 1e-3 } }, false],
  ];
  for (const [type, name, resource, ok] of refundCases) {
    it(`${type} with ${name} → ${ok ? "accepted" : "resource malformed"}`, async () => {
      const result = await open(await forge(type, resource));
      expect(result).toMatchObject(ok ? { ok: true, event: { kind: "refund", eventType: type } } : { ok: false, stage: "resource", reason: "malformed" });
    });
  }

  it("a resource whose original_type contradicts the event is refused", async () => {
    expect(await open(await forge("TRANSACTION.SUCCESS", accepted, { originalType: "refund" }))).toMatchObject({ ok: false, stage: "envelope" });
  });
  it("a plaintext that is not JSON is refused", async () => {
    expect(await open(await forge("TRANSACTION.SUCCESS", "not json"))).toMatchObject({ ok: false, stage: "resource" });
  });
  it("signed bodies that are not notifications are refused at the envelope", async () => {
    for (const body of ["", "[]", "null", '{"id":"x"}', '{"id":"x","create_time":"t","event_type":"TRANSACTION.SUCCESS","resource_type":"plain","resource":{"algorithm":"a","ciphertext":"c","nonce":"n"}}']) {
      expect(await open(await signed(body)), body).toMatchObject({ ok: false, stage: "envelope", reason: "malformed" });
    }
  });
  it("unknown event types (TRANSACTION.FAIL, inherited names) are acknowledged as `other`, never decrypted", async () => {
    for (const type of ["TRANSACTION.FAIL", "toString", "__proto__"]) {
      expect(await open(await forge(type, "ignored"))).toMatchObject({ ok: true, event: { kind: "other", eventType: type } });
    }
  });
});

describe("replies", () => {
  it("success: 200 with no body", async () => {
    const res = callbackAck();
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });
  it("refusal: the status given, {code: FAIL, message}", async () => {
    const res = callbackRefusal(401, "signature check failed");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({ code: "FAIL", message: "signature check failed" });
    expect(callbackRefusal(500, "x").status).toBe(500);
  });
  it("a refusal cannot be a 2xx (that would acknowledge)", () => {
    expect(() => callbackRefusal(200, "x")).toThrow(RangeError);
    expect(() => callbackRefusal(204, "x")).toThrow(RangeError);
  });
});
