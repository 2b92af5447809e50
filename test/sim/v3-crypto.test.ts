// Pins the simulator's API v3 crypto (sim/v3/, node:crypto) and the tests' own client (v3-client.ts) to the
// vendored vectors (test/fixtures/wechatpay-v3, see SOURCES.md): signatures byte for byte, GCM both ways,
// the certificate download, and the Authorization check accepting the vectors' headers over HTTP.
import { describe, expect, it } from "vitest";
import { createSimulator } from "../../sim/core.ts";
import { checkAuthorization } from "../../sim/v3/auth.ts";
import { callbackBody } from "../../sim/v3/callbacks.ts";
import { aeadDecrypt, aeadEncrypt, certificateInfo, paySignMessage, privateKeyFromPem, requestMessage, responseMessage, signRsa, verifyRsa } from "../../sim/v3/crypto.ts";
import { signatureHeaders } from "../../sim/v3/reply.ts";
import * as TEST_KEYS from "../../sim/v3/test-keys.ts";
import { V3State } from "../../sim/v3/trust.ts";
import type { Signer } from "../../sim/v3/trust.ts";
import { APIV3_KEY, MERCHANT_KEY, authorization, gcmDecrypt, gcmEncrypt, keyFile, privateKey, publicKey, rsaVerify, v3PaySign, vector } from "./v3-client.ts";

type Headers5 = Record<string, string>;
const wechatPayKey = () => privateKey("java-sdk.wechat_pay_private_key.pem");
const signer = (serial: string): Signer => ({ kind: serial.startsWith("PUB_KEY_ID_") ? "publicKey" : "certificate", serial, privateKey: wechatPayKey() });

describe("the simulator's embedded TEST-ONLY keys", () => {
  it("are the vendored files (private keys under the TESTING KEY label)", () => {
    const same = (embedded: string, file: string) => expect(embedded.replace(/TESTING KEY/g, "PRIVATE KEY").trim()).toBe(keyFile(file).replace(/TESTING KEY/g, "PRIVATE KEY").trim());
    same(TEST_KEYS.TEST_MERCHANT_PRIVATE_KEY, "java-sdk.merchant_private_key.pem");
    same(TEST_KEYS.TEST_MERCHANT_CERTIFICATE, "java-sdk.merchant_certificate.pem");
    same(TEST_KEYS.TEST_WECHATPAY_PRIVATE_KEY, "java-sdk.wechat_pay_private_key.pem");
    same(TEST_KEYS.TEST_WECHATPAY_PUBLIC_KEY, "java-sdk.wechat_pay_public_key.pem");
    same(TEST_KEYS.TEST_WECHATPAY_CERTIFICATE, "java-sdk.wechat_pay_certificate.pem");
    same(TEST_KEYS.TEST_PLATFORM_PRIVATE_KEY, "go-sdk-test.private-key.pkcs8.pem");
    same(TEST_KEYS.TEST_PLATFORM_CERTIFICATE, "go-sdk-test.certificate.pem");
    for (const k of [TEST_KEYS.TEST_MERCHANT_PRIVATE_KEY, TEST_KEYS.TEST_WECHATPAY_PRIVATE_KEY, TEST_KEYS.TEST_PLATFORM_PRIVATE_KEY]) expect(k).not.toContain("PRIVATE KEY");
    expect(TEST_KEYS.TEST_APIV3_KEY).toBe(vector<{ apiv3_key: string }>("callbacks.computed.json").apiv3_key);
    expect(certificateInfo(TEST_KEYS.TEST_PLATFORM_CERTIFICATE).serial).toBe("D7CE59D1F522D701");
  });
});

describe("signatures (sign-primitive, request-signing, responses, callbacks, paysign)", () => {
  it("sign-primitive: the stated signatures, byte for byte; the wrong public key refuses", () => {
    const v = vector<{ vectors: { private_key: string; message: string; expected_signature: string; must_not_verify_with?: string }[] }>("sign-primitive.stated.json").vectors;
    for (const c of v) {
      const key = privateKey(c.private_key.replace("keys/", ""));
      expect(signRsa(c.message, key)).toBe(c.expected_signature);
      if (c.must_not_verify_with) expect(verifyRsa(c.message, c.expected_signature, publicKey(c.must_not_verify_with.replace("keys/", "")))).toBe(false);
    }
  });

  it("authorization-format: the message lines, each ending in \\n (the body line too)", () => {
    for (const c of vector<{ vectors: { method: string; canonical_url?: string; url?: string; timestamp: string; nonce: string; body: string; expected_message: string }[] }>("authorization-format.stated.json").vectors) {
      const url = c.canonical_url ?? new URL(c.url as string).pathname + new URL(c.url as string).search;
      expect(requestMessage(c.method, url, c.timestamp, c.nonce, c.body)).toBe(c.expected_message);
    }
  });

  const req = vector<{ mchid: string; serial_no: string; timestamp: string; nonce_str: string; vectors: { id: string; method: string; canonical_url: string; body: string; message: string; signature: string; authorization: string }[] }>("request-signing.computed.json");

  it("request-signing: 8 requests signed byte for byte by the simulator's signer and by the test client", () => {
    expect(req.vectors).toHaveLength(8);
    for (const c of req.vectors) {
      expect(requestMessage(c.method, c.canonical_url, req.timestamp, req.nonce_str, c.body), c.id).toBe(c.message);
      expect(signRsa(c.message, privateKeyFromPem(TEST_KEYS.TEST_MERCHANT_PRIVATE_KEY)), c.id).toBe(c.signature);
      const client = authorization({ method: c.method, pathAndQuery: c.canonical_url, body: c.body, mchid: req.mchid, serial: req.serial_no, key: MERCHANT_KEY(), timestamp: req.timestamp, nonce: req.nonce_str });
      expect(client.match(/signature="([^"]+)"/)?.[1], c.id).toBe(c.signature);
    }
  });

  it("request-signing: the simulator's Authorization check accepts every vector header and refuses a tampered one with WeChat's hint", () => {
    const v3 = new V3State({ merchantCertificate: keyFile("java-sdk.merchant_certificate.pem") });
    const now = Number(req.timestamp) * 1000;
    for (const c of req.vectors) {
      const r = { method: c.method, canonicalUrl: c.canonical_url, body: Buffer.from(c.body, "utf8"), authorization: c.authorization };
      expect(checkAuthorization(v3, req.mchid, r, now), c.id).toBeNull();
    }
    const prepay = req.vectors[0]!;
    const tampered = prepay.body.replace('"total":100', '"total":101');
    const refused = checkAuthorization(v3, req.mchid, { method: "POST", canonicalUrl: prepay.canonical_url, body: Buffer.from(tampered), authorization: prepay.authorization }, now);
    expect(refused).toMatchObject({ status: 401, signed: false, json: { code: "SIGN_ERROR", message: "错误的签名，验签失败" } });
    const info = (refused!.json as { detail: { sign_information: Record<string, unknown> } }).detail.sign_information;
    expect(info).toEqual({
      method: "POST",
      url: "/v3/pay/transactions/jsapi",
      truncated_sign_message: `POST\n/v3/pay/transactions/jsapi\n${req.timestamp}\n${req.nonce_str}\n{"appid"\n`,
      sign_message_length: Buffer.byteLength(prepay.message.replace('"total":100', '"total":101')),
    });
  });

  it("responses: a 200 and an empty 204 signed byte for byte (the 204 message ends \\n\\n)", () => {
    for (const c of vector<{ vectors: { headers: Headers5; body: string; signed_message: string }[] }>("responses.computed.json").vectors) {
      const h = c.headers;
      expect(responseMessage(h["Wechatpay-Timestamp"]!, h["Wechatpay-Nonce"]!, c.body)).toBe(c.signed_message);
      const signed = signatureHeaders(signer(h["Wechatpay-Serial"]!), h["Wechatpay-Timestamp"]!, h["Wechatpay-Nonce"]!, c.body);
      const { "Request-ID": _requestId, ...expected } = h;
      expect(signed).toEqual(expected); // every Wechatpay-* header, the signature byte for byte
      expect(rsaVerify(c.signed_message, signed["Wechatpay-Signature"]!, publicKey("java-sdk.wechat_pay_public_key.pem"))).toBe(true);
    }
  });

  it("paysign: the computed paySigns verify with the simulator (and sign identically)", () => {
    const p = vector<{ official_example: { appId: string; timeStamp: string; nonceStr: string; package: string; message: string }; computed: { key: string; paySign: string }[] }>("paysign.json");
    const e = p.official_example;
    expect(paySignMessage(e.appId, e.timeStamp, e.nonceStr, e.package)).toBe(e.message);
    for (const c of p.computed) {
      const key = privateKey(c.key.replace("keys/", ""));
      expect(signRsa(e.message, key)).toBe(c.paySign);
      expect(v3PaySign(e.appId, e.timeStamp, e.nonceStr, e.package, key)).toBe(c.paySign);
    }
  });
});

type CallbackVector = { headers: Headers5; body: string; expected_plaintext?: string; now?: number; apiv3_key?: string; id?: string };

describe("callbacks.computed.json", () => {
  const cb = vector<{ now: number; apiv3_key: string; accept: Record<string, CallbackVector>; reject: CallbackVector[] }>("callbacks.computed.json");

  it("accept cases: the simulator rebuilds each body (GCM included) and its signature byte for byte", () => {
    for (const [name, c] of Object.entries(cb.accept)) {
      const env = JSON.parse(c.body);
      const body = callbackBody({
        id: env.id, createTime: env.create_time, eventType: env.event_type, summary: env.summary, originalType: env.resource.original_type,
        associatedData: env.resource.associated_data, nonce: env.resource.nonce, plaintext: c.expected_plaintext!, apiV3Key: cb.apiv3_key,
      });
      expect(body, name).toBe(c.body);
      const h = c.headers;
      const signed = signatureHeaders(signer(h["Wechatpay-Serial"]!), h["Wechatpay-Timestamp"]!, h["Wechatpay-Nonce"]!, body);
      expect(signed["Wechatpay-Signature"], name).toBe(h["Wechatpay-Signature"]);
      expect(aeadDecrypt(cb.apiv3_key, env.resource.nonce, env.resource.associated_data, env.resource.ciphertext)).toBe(c.expected_plaintext);
    }
  });

  it("reject cases: probes never verify (and never throw), edited or re-serialised bodies fail, the wrong APIv3 key fails the tag", () => {
    const key = publicKey("java-sdk.wechat_pay_public_key.pem");
    const byId = Object.fromEntries(cb.reject.map((r) => [r.id, r]));
    for (const id of ["signtest-probe", "signtest-probe-real-shape", "body-one-byte-changed", "body-reserialized"]) {
      const r = byId[id]!;
      expect(() => verifyRsa(responseMessage(r.headers["Wechatpay-Timestamp"]!, r.headers["Wechatpay-Nonce"]!, r.body), r.headers["Wechatpay-Signature"]!, key)).not.toThrow();
      expect(verifyRsa(responseMessage(r.headers["Wechatpay-Timestamp"]!, r.headers["Wechatpay-Nonce"]!, r.body), r.headers["Wechatpay-Signature"]!, key), id).toBe(false);
    }
    const wrong = byId["wrong-apiv3-key"]!;
    const res = JSON.parse(wrong.body).resource;
    expect(() => aeadDecrypt(wrong.apiv3_key!, res.nonce, res.associated_data, res.ciphertext)).toThrow();
    expect(() => aeadDecrypt(cb.apiv3_key, res.nonce, res.associated_data, res.ciphertext)).not.toThrow();
  });
});

describe("AEAD_AES_256_GCM (aes-gcm.stated.json, certificates-download.stated.json)", () => {
  type GcmVector = { id: string; key: string; key_bytes: number; nonce: string; associated_data: string; ciphertext: string; plaintext: string; must_fail?: Partial<GcmVector>[] };
  const gcm = vector<{ vectors: GcmVector[] }>("aes-gcm.stated.json").vectors;

  it("decrypts and re-encrypts every 32-byte-key vector exactly; the tampered variants fail", () => {
    const aes256 = gcm.filter((v) => v.key_bytes === 32);
    expect(aes256.map((v) => v.id)).toEqual(["java-sdk", "axios-plugin-hello", "axios-plugin-empty"]);
    for (const v of aes256) {
      expect(aeadDecrypt(v.key, v.nonce, v.associated_data, v.ciphertext), v.id).toBe(v.plaintext);
      expect(aeadEncrypt(v.key, v.nonce, v.associated_data, v.plaintext), v.id).toBe(v.ciphertext);
      expect(gcmEncrypt(v.key, v.nonce, v.associated_data, v.plaintext), v.id).toBe(v.ciphertext); // the test client agrees
      for (const bad of v.must_fail ?? []) {
        const w = { ...v, ...bad };
        expect(() => aeadDecrypt(w.key, w.nonce, w.associated_data, w.ciphertext), JSON.stringify(bad)).toThrow();
      }
    }
  });

  it("refuses the Go vector's 16-byte key: WeChat's APIv3 key is 32 bytes (AES-256 only)", () => {
    const go = gcm.find((v) => v.id === "go-sdk-utils")!;
    expect(gcmDecrypt(go.key, go.nonce, go.associated_data, go.ciphertext)).toBe(go.plaintext); // the vector is right (AES-128)…
    expect(() => aeadDecrypt(go.key, go.nonce, go.associated_data, go.ciphertext)).toThrow(); // …but not a v3 key
  });

  it("certificates-download: the stated response decrypts to the vendored real certificate, and encrypting it back gives the stated ciphertext", () => {
    const c = vector<{ apiv3_key: string; response_body: string; expected_serial_no: string }>("certificates-download.stated.json");
    const entry = JSON.parse(c.response_body).data[0];
    const e = entry.encrypt_certificate;
    const pem = aeadDecrypt(c.apiv3_key, e.nonce, e.associated_data, e.ciphertext);
    expect(pem).toBe(keyFile("java-sdk.downloaded-platform-certificate.pem"));
    expect(aeadEncrypt(c.apiv3_key, e.nonce, "certificate", pem)).toBe(e.ciphertext);
    const info = certificateInfo(pem);
    expect(info.serial).toBe(c.expected_serial_no);
    expect(info.serial).toBe(entry.serial_no);
    expect(new Date(info.notBefore).toISOString()).toBe("2023-09-19T15:15:58.000Z");
    expect(APIV3_KEY).toBe(c.apiv3_key);
  });
});

describe("the vectors' requests over HTTP", () => {
  it("every request-signing vector passes the simulator's Authorization check (clock frozen at its timestamp); one edited byte → 401", async () => {
    const req = vector<{ mchid: string; timestamp: string; vectors: { id: string; method: string; canonical_url: string; body: string; authorization: string }[] }>("request-signing.computed.json");
    const sim = createSimulator({ appId: "wxd678efh567hg6787", mchId: req.mchid, apiKey: "192006250b4c09247ec02edce69f6a2d", appSecret: "s", delivery: "outbox", now: () => Number(req.timestamp) * 1000, closeMinAgeSeconds: 0, v3: { mode: "migrating" } });
    try {
      const send = (c: (typeof req.vectors)[number], body = c.body) =>
        sim.fetch(new Request("https://api.mch.weixin.qq.com" + c.canonical_url, { method: c.method, headers: { Authorization: c.authorization, Accept: "application/json", "User-Agent": "vector" }, body: body || undefined }));
      const statuses: Record<string, number> = {};
      for (const c of req.vectors) statuses[c.id] = (await send(c)).status;
      // past the signature check, each answers what the simulator's state says (no order was paid, no bill exists)
      expect(statuses).toEqual({ "jsapi-prepay": 200, "query-by-out-trade-no": 200, close: 204, refund: 404, "refund-query": 404, tradebill: 400, billdownload: 400, certificates: 200 });
      const edited = await send(req.vectors[0]!, req.vectors[0]!.body.replace("QQ公仔", "QQ公仔!"));
      expect(edited.status).toBe(401);
      expect((await edited.json()).detail.sign_information.url).toBe("/v3/pay/transactions/jsapi");
    } finally {
      sim.close();
    }
  });
});
