// Verification of v3 replies and callbacks (src/wechatpay/v3/verify.ts) over the raw body, pinned to
// responses.computed.json (incl. the 204 empty body), callbacks.computed.json (every accept and
// reject case) and callback-go-sdk.stated.json, each with the vector's frozen clock.
import { describe, expect, it } from "vitest";
import responses from "../fixtures/wechatpay-v3/responses.computed.json";
import callbacks from "../fixtures/wechatpay-v3/callbacks.computed.json";
import goCallback from "../fixtures/wechatpay-v3/callback-go-sdk.stated.json";
import { importWechatPayPublicKey } from "../../src/wechatpay/v3/pem";
import { isPublicKeyId, readSignatureHeaders, verifySignature, type TrustStore } from "../../src/wechatpay/v3/verify";
import { atSeconds, headersOf, keyFile } from "./wechatpay-v3-fixtures";

/** The vectors' trust store: the same WeChat Pay test key under a public-key id and a certificate serial. */
async function trustStore(): Promise<TrustStore> {
  const trust = new Map<string, CryptoKey>();
  for (const [serial, file] of Object.entries(callbacks.trust_store)) trust.set(serial, await importWechatPayPublicKey(keyFile(file)));
  return trust;
}

const now = atSeconds(callbacks.now);

describe("responses (responses.computed.json)", async () => {
  const trust = new Map([["PUB_KEY_ID_0100000000000000000000000000000001", await importWechatPayPublicKey(keyFile(responses.verify_with))]]);
  for (const v of responses.vectors) {
    it(`${v.id}: verifies over the raw body (string and bytes)`, async () => {
      const headers = headersOf(v.headers);
      const asText = await verifySignature({ headers, body: v.body, trust, now: atSeconds(responses.now) });
      expect(asText).toEqual({ ok: true, serial: "PUB_KEY_ID_0100000000000000000000000000000001", timestamp: responses.now });
      expect(await verifySignature({ headers, body: new TextEncoder().encode(v.body), trust, now: atSeconds(responses.now) })).toEqual(asText);
    });
  }
  it("close-204-empty-body: the message is `ts\\nnonce\\n\\n`, so any body at all fails", async () => {
    const v = responses.vectors.find((r) => r.id === "close-204-empty-body")!;
    expect(v.signed_message.endsWith("\n\n")).toBe(true);
    const result = await verifySignature({ headers: headersOf(v.headers), body: "\n", trust, now: atSeconds(responses.now) });
    expect(result).toMatchObject({ ok: false, reason: "bad_signature" });
  });
  it("lower-case header names verify the same (some replies arrive that way)", async () => {
    const v = responses.vectors[0]!;
    const lower = new Headers(Object.entries(v.headers).map(([k, val]) => [k.toLowerCase(), val]));
    expect((await verifySignature({ headers: lower, body: v.body, trust, now: atSeconds(responses.now) })).ok).toBe(true);
  });
  it("a 2xx without signature headers is `unsigned`; a partial set is `malformed`", async () => {
    const v = responses.vectors[0]!;
    expect(await verifySignature({ headers: new Headers({ "Request-ID": "x" }), body: v.body, trust, now })).toMatchObject({ ok: false, reason: "unsigned" });
    const partial = headersOf(v.headers);
    partial.delete("Wechatpay-Nonce");
    expect(await verifySignature({ headers: partial, body: v.body, trust, now })).toMatchObject({ ok: false, reason: "malformed" });
  });
});

describe("callbacks (callbacks.computed.json)", async () => {
  const trust = await trustStore();
  for (const [name, v] of Object.entries(callbacks.accept)) {
    it(`accept ${name} (${v.mode})`, async () => {
      const result = await verifySignature({ headers: headersOf(v.headers), body: v.body, trust, now });
      expect(result).toEqual({ ok: true, serial: v.headers["Wechatpay-Serial"], timestamp: callbacks.now });
    });
  }

  const expected: Record<string, string> = {
    "signtest-probe": "probe",
    "signtest-probe-real-shape": "probe",
    "body-one-byte-changed": "bad_signature",
    "body-reserialized": "bad_signature",
    "unknown-serial": "unknown_serial",
    "stale-timestamp": "stale",
    // The signature is valid: the wrong APIv3 key only shows when decrypting (callback tests).
    "wrong-apiv3-key": "ok",
    // The same key under both ids in this trust store, so it verifies: the id only selects the key.
    "serial-swapped": "ok",
  };
  it("every reject case has an expectation here", () => {
    expect(callbacks.reject.map((v) => v.id).sort()).toEqual(Object.keys(expected).sort());
  });
  for (const v of callbacks.reject) {
    it(`${v.id} → ${expected[v.id]}`, async () => {
      const at = "now" in v && v.now ? atSeconds(v.now) : now;
      const result = await verifySignature({ headers: headersOf(v.headers), body: v.body, trust, now: at });
      if (expected[v.id] === "ok") expect(result.ok).toBe(true);
      else expect(result).toMatchObject({ ok: false, reason: expected[v.id], serial: v.headers["Wechatpay-Serial"] });
    });
  }

  it("the stale case is stale at +301 s and at −301 s, fine at ±300 s", async () => {
    const v = callbacks.accept.transaction_success_public_key_mode;
    const at = (delta: number) => verifySignature({ headers: headersOf(v.headers), body: v.body, trust, now: atSeconds(callbacks.now + delta) });
    expect(await at(301)).toMatchObject({ ok: false, reason: "stale" });
    expect(await at(-301)).toMatchObject({ ok: false, reason: "stale" });
    expect((await at(300)).ok).toBe(true);
    expect((await at(-300)).ok).toBe(true);
  });

  it("a probe is a probe whatever the clock or serial (never a crash, never success)", async () => {
    const probe = callbacks.reject.find((v) => v.id === "signtest-probe-real-shape")!;
    for (const serial of ["PUB_KEY_ID_0100000000000000000000000000000001", "UNKNOWN"]) {
      const headers = headersOf({ ...probe.headers, "Wechatpay-Serial": serial });
      expect(await verifySignature({ headers, body: probe.body, trust, now: atSeconds(0) })).toMatchObject({ ok: false, reason: "probe" });
    }
    expect(() => atob(probe.headers["Wechatpay-Signature"])).toThrow(); // what would crash a naive verifier
  });

  it("looks the serial up exactly: a lower-case certificate serial is unknown", async () => {
    const v = callbacks.accept.transaction_success_platform_cert_mode;
    const headers = headersOf({ ...v.headers, "Wechatpay-Serial": v.headers["Wechatpay-Serial"].toLowerCase() });
    expect(await verifySignature({ headers, body: v.body, trust, now })).toMatchObject({ ok: false, reason: "unknown_serial" });
  });

  it("refuses hostile header values without throwing", async () => {
    const v = callbacks.accept.transaction_success_public_key_mode;
    const sig = v.headers["Wechatpay-Signature"];
    const cases: [Record<string, string>, string][] = [
      [{ "Wechatpay-Timestamp": "1764662400000" }, "malformed"],
      [{ "Wechatpay-Timestamp": "17646624e2" }, "malformed"],
      [{ "Wechatpay-Timestamp": "-1764662400" }, "malformed"],
      [{ "Wechatpay-Signature": "not base64!" }, "malformed"],
      [{ "Wechatpay-Signature": sig.replace(/=+$/, "") }, "malformed"],
      [{ "Wechatpay-Signature": sig.slice(4) }, "bad_signature"],
      [{ "Wechatpay-Signature": btoa("x".repeat(256)) }, "bad_signature"],
      [{ "Wechatpay-Signature": "" }, "malformed"],
      [{ "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3" }, "malformed"],
      [{ "Wechatpay-Serial": "" }, "unknown_serial"],
      [{ "Wechatpay-Serial": "__proto__" }, "unknown_serial"],
    ];
    for (const [change, reason] of cases) {
      const result = await verifySignature({ headers: headersOf({ ...v.headers, ...change }), body: v.body, trust, now });
      expect(result, JSON.stringify(change)).toMatchObject({ ok: false, reason });
    }
  });

  it("an empty trust store knows no serial", async () => {
    const v = callbacks.accept.refund_success_public_key_mode;
    expect(await verifySignature({ headers: headersOf(v.headers), body: v.body, trust: new Map(), now })).toMatchObject({ ok: false, reason: "unknown_serial" });
  });
});

describe("the Go SDK's callback (callback-go-sdk.stated.json)", () => {
  it("verifies with the certificate selected by its hex serial, clock frozen at the vector's time", async () => {
    const trust = new Map([[goCallback.headers["Wechatpay-Serial"], await importWechatPayPublicKey(keyFile(goCallback.verify_with))]]);
    const result = await verifySignature({ headers: headersOf(goCallback.headers), body: goCallback.body, trust, now: atSeconds(goCallback.now) });
    expect(result).toEqual({ ok: true, serial: "D7CE59D1F522D701", timestamp: goCallback.now });
    const later = await verifySignature({ headers: headersOf(goCallback.headers), body: goCallback.body, trust, now: atSeconds(goCallback.now + 301) });
    expect(later).toMatchObject({ ok: false, reason: "stale" });
  });
});

describe("serials", () => {
  it("tells a public-key id from a certificate serial", () => {
    expect(isPublicKeyId("PUB_KEY_ID_0100000000000000000000000000000001")).toBe(true);
    expect(isPublicKeyId("440024045C4A427599D09BB4E3DE0279F2E813FD")).toBe(false);
    expect(isPublicKeyId("D7CE59D1F522D701")).toBe(false);
  });
  it("reads no headers as unsigned (null)", () => {
    expect(readSignatureHeaders(new Headers({ "Content-Type": "application/json" }))).toBeNull();
  });
});
