// AEAD_AES_256_GCM (src/wechatpay/v3/aead.ts) on every aes-gcm.stated.json vector (Java AES-256
// with its tamper cases, Go's 16-byte key, axios-plugin's 16-byte IV and empty plaintext), and the
// /v3/certificates reply (certificates.ts) decrypted to the exact PEM, serial and usable key.
import { describe, expect, it } from "vitest";
import aesGcm from "../fixtures/wechatpay-v3/aes-gcm.stated.json";
import certificatesDownload from "../fixtures/wechatpay-v3/certificates-download.stated.json";
import { decryptResource, openAesGcm } from "../../src/wechatpay/v3/aead";
import { readCertificatesReply } from "../../src/wechatpay/v3/certificates";
import { V3KeyError } from "../../src/wechatpay/v3/pem";
import { keyFile, wechatEncrypt } from "./wechatpay-v3-fixtures";

describe("AES-GCM vectors (aes-gcm.stated.json)", () => {
  for (const v of aesGcm.vectors) {
    it(`${v.id} (${v.key_bytes}-byte key, ${new TextEncoder().encode(v.nonce).length}-byte IV): opens to ${JSON.stringify(v.plaintext)}`, async () => {
      expect(await openAesGcm(v.key, v.nonce, v.associated_data, v.ciphertext)).toEqual({ ok: true, plaintext: v.plaintext });
    });
    for (const change of ("must_fail" in v && v.must_fail) || []) {
      it(`${v.id}: changing ${JSON.stringify(change)} fails the tag check`, async () => {
        const c = { ...v, ...change };
        expect(await openAesGcm(c.key, c.nonce, c.associated_data, c.ciphertext)).toMatchObject({ ok: false, reason: "auth_failed" });
      });
    }
    it(`${v.id}: every flipped bit of the ciphertext or tag fails the tag check`, async () => {
      const sealed = Uint8Array.from(atob(v.ciphertext), (c) => c.charCodeAt(0));
      for (let i = 0; i < sealed.length; i++) {
        const tampered = sealed.slice();
        tampered[i]! ^= 0x01;
        const result = await openAesGcm(v.key, v.nonce, v.associated_data, btoa(String.fromCharCode(...tampered)));
        expect(result, `byte ${i}`).toMatchObject({ ok: false, reason: "auth_failed" });
      }
    });
  }

  it("32-byte-key vectors also open through the production entry point", async () => {
    for (const v of aesGcm.vectors.filter((x) => x.key_bytes === 32)) {
      const resource = { algorithm: "AEAD_AES_256_GCM", ciphertext: v.ciphertext, nonce: v.nonce, associated_data: v.associated_data };
      expect(await decryptResource(resource, v.key)).toEqual({ ok: true, plaintext: v.plaintext });
    }
  });

  it("the production entry point refuses a 16-byte key (it would silently mean AES-128)", async () => {
    const v = aesGcm.vectors.find((x) => x.id === "go-sdk-utils")!;
    const resource = { algorithm: "AEAD_AES_256_GCM", ciphertext: v.ciphertext, nonce: v.nonce, associated_data: v.associated_data };
    await expect(decryptResource(resource, v.key)).rejects.toThrow(V3KeyError);
  });

  it("refuses other algorithms, bad base64, a body shorter than the tag, and non-string fields", async () => {
    const v = aesGcm.vectors[0]!;
    const base = { algorithm: "AEAD_AES_256_GCM", ciphertext: v.ciphertext, nonce: v.nonce, associated_data: v.associated_data };
    expect(await decryptResource({ ...base, algorithm: "AEAD_SM4_GCM" }, v.key)).toMatchObject({ ok: false, reason: "unsupported_algorithm" });
    expect(await decryptResource({ ...base, ciphertext: "%%%%" }, v.key)).toMatchObject({ ok: false, reason: "malformed" });
    expect(await decryptResource({ ...base, ciphertext: btoa("short") }, v.key)).toMatchObject({ ok: false, reason: "malformed" });
    expect(await decryptResource({ ...base, nonce: 12 as unknown as string }, v.key)).toMatchObject({ ok: false, reason: "malformed" });
    expect(await decryptResource({ ...base, nonce: "" }, v.key)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("an absent associated_data means empty (axios-plugin-empty)", async () => {
    const v = aesGcm.vectors.find((x) => x.id === "axios-plugin-empty")!;
    expect(await decryptResource({ algorithm: "AEAD_AES_256_GCM", ciphertext: v.ciphertext, nonce: v.nonce }, v.key)).toEqual({ ok: true, plaintext: "" });
  });
});

describe("GET /v3/certificates reply (certificates-download.stated.json)", () => {
  const d = certificatesDownload;
  it("decrypts to the exact PEM, its serial equals serial_no, validity as stated, the key imports", async () => {
    const result = await readCertificatesReply(d.response_body, d.apiv3_key);
    if (!result.ok) throw new Error(result.message);
    expect(result.certificates).toHaveLength(1);
    const [c] = result.certificates;
    expect(c!.pem).toBe(keyFile(d.decrypted_certificate));
    expect(c!.serialNo).toBe(d.expected_serial_no);
    expect(c!.notBefore.toISOString()).toBe(new Date(d.certificate_validity.not_before).toISOString());
    expect(c!.notAfter.toISOString()).toBe(new Date(d.certificate_validity.not_after).toISOString());
    expect(c!.effectiveTime.toISOString()).toBe("2023-09-19T15:15:58.000Z");
    expect(c!.expireTime.toISOString()).toBe("2028-09-17T15:15:58.000Z");
    expect(c!.publicKey.type).toBe("public");
    expect(c!.publicKey.usages).toEqual(["verify"]);
  });

  it("a wrong APIv3 key is decrypt_failed; a 16-character one is a configuration error", async () => {
    expect(await readCertificatesReply(d.response_body, "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gc")).toMatchObject({ ok: false, reason: "decrypt_failed" });
    await expect(readCertificatesReply(d.response_body, "testMchAPIv3Key0")).rejects.toThrow(V3KeyError);
  });

  it("a serial_no that differs from the certificate's own serial is refused", async () => {
    const body = d.response_body.replace(d.expected_serial_no, "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427ED");
    expect(await readCertificatesReply(body, d.apiv3_key)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("a decrypted plaintext that is not a certificate is refused, typed", async () => {
    const ciphertext = await wechatEncrypt(d.apiv3_key, "0123456789ab", "certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const body = JSON.stringify({ data: [{ serial_no: "AA", effective_time: "2023-09-19T23:15:58+08:00", expire_time: "2028-09-17T23:15:58+08:00", encrypt_certificate: { algorithm: "AEAD_AES_256_GCM", associated_data: "certificate", nonce: "0123456789ab", ciphertext } }] });
    expect(await readCertificatesReply(body, d.apiv3_key)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("refuses bodies that are not the certificates shape", async () => {
    for (const body of ["", "[]", "{}", '{"data":[]}', '{"data":[{"serial_no":1}]}', '{"data":[{"serial_no":"A","encrypt_certificate":{},"effective_time":"x","expire_time":"y"}]}']) {
      expect(await readCertificatesReply(body, d.apiv3_key), body).toMatchObject({ ok: false, reason: "malformed" });
    }
  });
});
