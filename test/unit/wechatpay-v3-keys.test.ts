// The v3 keys and the DER reader (src/wechatpay/v3/pem.ts, der.ts) against every certificate and
// key in test/fixtures/wechatpay-v3/keys: serials as WeChat prints them, validity (UTCTime and
// GeneralizedTime), the SPKI importable and verifying the vectors' signatures; then hostile input:
// every truncation of a certificate, garbage, PKCS#1 and other wrong PEMs, bad APIv3 keys.
import { afterEach, describe, expect, it, vi } from "vitest";
import signPrimitive from "../fixtures/wechatpay-v3/sign-primitive.stated.json";
import { DerError, readCertificate, readChildren, readTlv } from "../../src/wechatpay/v3/der";
import {
  checkApiV3Key, importMerchantPrivateKey, importWechatPayPublicKey, parsePrivateKeyPem, parsePublicKeyPem,
  PKCS1_TO_PKCS8, readCertificatePem, readPem, V3KeyError,
} from "../../src/wechatpay/v3/pem";
import { CERTIFICATES, keyFile, pemDer } from "./wechatpay-v3-fixtures";

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

afterEach(() => vi.restoreAllMocks());

/** The PEM text of `der` under `label`, 64 columns, as openssl writes it. */
function toPem(der: Uint8Array, label: string): string {
  const body = btoa(String.fromCharCode(...der)).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** The PKCS#1 RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (its privateKey OCTET STRING). */
function pkcs1Of(pkcs8Pem: string): Uint8Array {
  const der = pemDer(pkcs8Pem);
  const octets = readChildren(der, readTlv(der, 0))[2]!;
  return der.slice(octets.contentStart, octets.end);
}

/** The typed error a call throws (or its rejection), failing the test if it is anything else. */
async function keyErrorOf(run: () => unknown): Promise<V3KeyError> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(V3KeyError);
    return err as V3KeyError;
  }
  throw new Error("expected a V3KeyError");
}

describe("DER reader on every certificate in the vectors", () => {
  for (const c of CERTIFICATES) {
    it(`${c.file}: serial ${c.serial}, validity, SPKI`, async () => {
      const fields = readCertificate(pemDer(keyFile(c.file)));
      expect(fields.serialHex).toBe(c.serial);
      expect(fields.notBefore.toISOString()).toBe(c.notBefore.replace("Z", ".000Z"));
      expect(fields.notAfter.toISOString()).toBe(c.notAfter.replace("Z", ".000Z"));
      const key = await crypto.subtle.importKey("spki", fields.spki, RSA, false, ["verify"]);
      expect((key.algorithm as { modulusLength: number }).modulusLength).toBe(2048);
    });
  }

  it("the SPKI from the Go certificate equals the Go public key PEM byte for byte", () => {
    expect(readCertificate(pemDer(keyFile("keys/go-sdk-test.certificate.pem"))).spki).toEqual(pemDer(keyFile("keys/go-sdk-test.public-key.spki.pem")));
  });

  it("the SPKI from the Java WeChat Pay certificate equals the Java WeChat Pay public key", () => {
    expect(readCertificate(pemDer(keyFile("keys/java-sdk.wechat_pay_certificate.pem"))).spki).toEqual(pemDer(keyFile("keys/java-sdk.wechat_pay_public_key.pem")));
  });

  for (const v of signPrimitive.vectors) {
    it(`sign-primitive ${v.id}: the certificate's key verifies the stated signature; the serial is ${v.certificate_serial}`, async () => {
      expect(readCertificatePem(keyFile(v.certificate)).serialHex).toBe(v.certificate_serial);
      const key = await importWechatPayPublicKey(keyFile(v.certificate));
      expect(await crypto.subtle.verify(RSA, key, b64(v.expected_signature), new TextEncoder().encode(v.message))).toBe(true);
      if ("must_not_verify_with" in v && v.must_not_verify_with) {
        const other = await importWechatPayPublicKey(keyFile(v.must_not_verify_with));
        expect(await crypto.subtle.verify(RSA, other, b64(v.expected_signature), new TextEncoder().encode(v.message))).toBe(false);
      }
    });
  }

  it("every truncation of a certificate is a DerError, never another exception", () => {
    const der = pemDer(keyFile("keys/java-sdk.downloaded-platform-certificate.pem"));
    for (let n = 0; n < der.length; n++) {
      expect(() => readCertificate(der.subarray(0, n)), `prefix of ${n} bytes`).toThrow(DerError);
    }
    expect(readCertificate(der).serialHex).toBe("5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC");
  });

  it("trailing bytes, garbage, an indefinite length and a wrong tag are DerErrors", () => {
    const der = pemDer(keyFile("keys/go-sdk-test.certificate.pem"));
    const cases: Uint8Array[] = [
      new Uint8Array([...der, 0]),
      new Uint8Array(0),
      new Uint8Array([0x30]),
      new Uint8Array([0x30, 0x80, 0, 0]),
      new Uint8Array([0x30, 0x85, 1, 1, 1, 1, 1]),
      new Uint8Array([0x31, ...der.subarray(1)]),
      new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
      new TextEncoder().encode("not a certificate at all"),
      Uint8Array.from({ length: 512 }, (_, i) => (i * 37 + 11) & 0xff),
    ];
    for (const bytes of cases) expect(() => readCertificate(bytes)).toThrow(DerError);
  });

  it("every single-byte change in the certificate's headers is either read or a DerError", () => {
    const der = pemDer(keyFile("keys/go-sdk-test.certificate.pem"));
    for (let i = 0; i < 160; i++) {
      for (const value of [0x00, 0x7f, 0x80, 0x84, 0xff]) {
        const changed = der.slice();
        changed[i] = value;
        try {
          readCertificate(changed);
        } catch (err) {
          expect(err, `byte ${i} = ${value}`).toBeInstanceOf(DerError);
        }
      }
    }
  });
});

describe("PEM keys", () => {
  it("imports the PKCS#8 merchant keys and signs the stated vectors", async () => {
    for (const v of signPrimitive.vectors) {
      const key = await importMerchantPrivateKey(keyFile(v.private_key));
      const signature = new Uint8Array(await crypto.subtle.sign(RSA, key, new TextEncoder().encode(v.message)));
      expect(btoa(String.fromCharCode(...signature))).toBe(v.expected_signature);
    }
  });

  it("imports a private key once per isolate, however often it is asked for", async () => {
    const pem = keyFile("keys/axios-plugin.apiclient_key.pem");
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const keys = await Promise.all([importMerchantPrivateKey(pem), importMerchantPrivateKey(pem), importMerchantPrivateKey(pem)]);
    expect(await importMerchantPrivateKey(pem)).toBe(keys[0]);
    expect(new Set(keys).size).toBe(1);
    expect(importKey).toHaveBeenCalledTimes(1);
  });

  it("reads a public key from an SPKI PEM and from a certificate PEM", () => {
    const spki = parsePublicKeyPem(keyFile("keys/go-sdk-test.public-key.spki.pem"));
    const fromCertificate = parsePublicKeyPem(keyFile("keys/go-sdk-test.certificate.pem"));
    expect(spki.certificate).toBeUndefined();
    expect(fromCertificate.certificate?.serialHex).toBe("D7CE59D1F522D701");
    expect(fromCertificate.spki).toEqual(spki.spki);
  });

  it("accepts CRLF line ends and a secret pasted with literal \\n escapes", async () => {
    const pem = keyFile("keys/java-sdk.merchant_private_key.pem");
    const crlf = pem.replace(/\n/g, "\r\n");
    const escaped = pem.trim().replace(/\n/g, "\\n");
    expect(escaped).not.toContain("\n");
    expect(parsePrivateKeyPem(crlf)).toEqual(pemDer(pem));
    expect(parsePrivateKeyPem(escaped)).toEqual(pemDer(pem));
    await expect(importMerchantPrivateKey(escaped)).resolves.toBeDefined();
  });

  it("refuses a real PKCS#1 key (BEGIN RSA PRIVATE KEY) with the openssl command that converts it", async () => {
    const pkcs1 = toPem(pkcs1Of(keyFile("keys/java-sdk.merchant_private_key.pem")), "RSA PRIVATE KEY");
    const err = await keyErrorOf(() => importMerchantPrivateKey(pkcs1));
    expect(err.code).toBe("PKCS1_PRIVATE_KEY");
    expect(err.message).toContain("openssl pkcs8 -topk8 -nocrypt -in apiclient_key.pem");
    expect(err.message).toContain(PKCS1_TO_PKCS8);
    expect((await keyErrorOf(() => parsePrivateKeyPem(pkcs1))).code).toBe("PKCS1_PRIVATE_KEY");
  });

  it("names every other wrong key as a typed problem without echoing it", async () => {
    const merchantKey = keyFile("keys/java-sdk.merchant_private_key.pem");
    const pkcs1Der = pkcs1Of(merchantKey);
    const cases: [string, string, string][] = [
      ["empty", "", "NOT_PEM"],
      ["garbage", "hello, this is not a key", "NOT_PEM"],
      ["mismatched labels", merchantKey.replace("END PRIVATE KEY", "END PUBLIC KEY"), "NOT_PEM"],
      ["bad base64", "-----BEGIN PRIVATE KEY-----\nMIIE*vQ==\n-----END PRIVATE KEY-----", "NOT_PEM"],
      ["a certificate", keyFile("keys/go-sdk-test.certificate.pem"), "WRONG_PEM_TYPE"],
      ["a public key", keyFile("keys/go-sdk-test.public-key.spki.pem"), "WRONG_PEM_TYPE"],
      ["encrypted", toPem(new Uint8Array([0x30, 0x00]), "ENCRYPTED PRIVATE KEY"), "ENCRYPTED_PRIVATE_KEY"],
      ["PKCS#1 bytes under a PKCS#8 label", toPem(pkcs1Der, "PRIVATE KEY"), "BAD_KEY"],
      ["truncated PKCS#8", toPem(pemDer(merchantKey).subarray(0, 100), "PRIVATE KEY"), "BAD_KEY"],
    ];
    for (const [name, pem, code] of cases) {
      const err = await keyErrorOf(() => importMerchantPrivateKey(pem));
      expect(err.code, name).toBe(code);
      expect(err.message, name).not.toContain("MII");
    }
  });

  it("refuses wrong public keys as typed problems", async () => {
    const goCert = keyFile("keys/go-sdk-test.certificate.pem");
    const truncatedCert = toPem(pemDer(goCert).subarray(0, 300), "CERTIFICATE");
    const cases: [string, string, string][] = [
      ["garbage", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "BAD_KEY"],
      ["a private key", keyFile("keys/java-sdk.merchant_private_key.pem"), "WRONG_PEM_TYPE"],
      ["a truncated certificate", truncatedCert, "BAD_CERTIFICATE"],
      ["not PEM", "PUB_KEY_ID_0100000000000000000000000000000001", "NOT_PEM"],
    ];
    for (const [name, pem, code] of cases) expect((await keyErrorOf(() => importWechatPayPublicKey(pem))).code, name).toBe(code);
  });

  it("readPem takes the first block of a file with several", () => {
    const two = keyFile("keys/go-sdk-test.certificate.pem") + keyFile("keys/java-sdk.wechat_pay_certificate.pem");
    expect(readPem(two).label).toBe("CERTIFICATE");
    expect(readCertificatePem(two).serialHex).toBe("D7CE59D1F522D701");
  });
});

describe("APIv3 key", () => {
  it("accepts exactly 32 printable ASCII characters", () => {
    expect(() => checkApiV3Key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")).not.toThrow();
  });
  it("refuses 16 or 33 characters, non-ASCII and spaces", async () => {
    for (const key of ["testMchAPIv3Key0", "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gbx", "a7cde1ZJB1kG2e7VfTs3jQzaWizur8G密", "a7cde1ZJB1kG2e7VfTs3jQzaWizur8G ", ""]) {
      expect((await keyErrorOf(() => checkApiV3Key(key))).code).toBe("BAD_APIV3_KEY");
    }
  });
});
