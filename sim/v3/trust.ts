// The simulator's API v3 keys and trust setup: the merchant's certificate (to check our Authorization
// headers), the APIv3 key, and WeChat Pay's own signing keys — a public key with its PUB_KEY_ID_… id
// (public-key mode), platform certificates (certificate mode), or both during a migration
// (https://pay.weixin.qq.com/doc/v3/merchant/4012154180). The mode, and which key signs callbacks while
// migrating, change through the control API (sim/v3/control.ts) until a reset.
import { createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { certificateInfo, isKeyPair, privateKeyFromPem, publicKeyFromPem } from "./crypto.ts";
import type { CertificateInfo } from "./crypto.ts";
import {
  TEST_APIV3_KEY, TEST_MERCHANT_CERTIFICATE, TEST_PLATFORM_CERTIFICATE, TEST_PLATFORM_PRIVATE_KEY, TEST_PUBLIC_KEY_ID, TEST_WECHATPAY_PRIVATE_KEY,
} from "./test-keys.ts";

export const V3_MODES = ["publicKey", "certificate", "migrating"] as const;
/** publicKey: new merchants; certificate: platform certificates only; migrating: both keys in use. */
export type V3Mode = (typeof V3_MODES)[number];
export const CALLBACK_SIGNERS = ["alternate", "publicKey", "certificate"] as const;
/** While migrating: which key signs callbacks ("alternate" takes turns, starting with the public key). */
export type CallbackSigner = (typeof CALLBACK_SIGNERS)[number];

/** The API v3 part of SimulatorOptions (`v3`). Every field defaults to the TEST-ONLY keys of sim/v3/test-keys.ts. */
export interface V3Options {
  /** the merchant API certificate (PEM): its public key checks Authorization signatures and paySigns, its serial is serial_no */
  merchantCertificate?: string;
  /** instead of a certificate: the merchant's public key (SPKI PEM, or a private key PEM: its public half) … */
  merchantPublicKey?: string;
  /** … and the merchant certificate serial that goes with it (upper-case hex) */
  merchantSerialNo?: string;
  /** the APIv3 key (32 characters): encrypts callback resources and /v3/certificates */
  apiV3Key?: string;
  /** public-key mode: the WeChat Pay public key id (PUB_KEY_ID_…) and its private key (PEM); null = none */
  publicKey?: { id: string; privateKey: string } | null;
  /** platform-certificate mode: WeChat Pay's private key and certificate (PEM) per certificate; [] = none */
  platformCertificates?: { privateKey: string; certificate: string }[];
  /** default "publicKey" */
  mode?: V3Mode;
  /** default "alternate" */
  callbackSigner?: CallbackSigner;
  /** how long a tradebill download_url works. Default 300 (WeChat's current documentation says 5 minutes) */
  billUrlValiditySeconds?: number;
}

/** One of WeChat Pay's signing keys: the serial it is announced under (Wechatpay-Serial) and its private key. */
export interface Signer {
  kind: "publicKey" | "certificate";
  serial: string;
  privateKey: KeyObject;
  /** certificate mode only */
  certificate?: CertificateInfo;
}

/** A tradebill file waiting behind its download_url token. */
export interface BillFile {
  bytes: Uint8Array;
  gzip: boolean;
  expiresAt: number;
}

function readMerchant(o: V3Options): { serial: string; publicKey: KeyObject } {
  if (o.merchantPublicKey !== undefined) {
    if (!o.merchantSerialNo) throw new Error("v3.merchantPublicKey needs v3.merchantSerialNo (the merchant certificate serial)");
    return { serial: o.merchantSerialNo.toUpperCase(), publicKey: publicKeyFromPem(o.merchantPublicKey) };
  }
  const cert = certificateInfo(o.merchantCertificate ?? TEST_MERCHANT_CERTIFICATE);
  return { serial: o.merchantSerialNo?.toUpperCase() ?? cert.serial, publicKey: cert.publicKey };
}

function readPublicKey(o: V3Options): Signer | null {
  const p = o.publicKey === undefined ? { id: TEST_PUBLIC_KEY_ID, privateKey: TEST_WECHATPAY_PRIVATE_KEY } : o.publicKey;
  if (p === null) return null;
  if (!/^PUB_KEY_ID_\w+$/.test(p.id)) throw new Error(`v3.publicKey.id must look like PUB_KEY_ID_…, got ${JSON.stringify(p.id)}`);
  return { kind: "publicKey", serial: p.id, privateKey: privateKeyFromPem(p.privateKey) };
}

function readCertificates(o: V3Options): Signer[] {
  const list = o.platformCertificates ?? [{ privateKey: TEST_PLATFORM_PRIVATE_KEY, certificate: TEST_PLATFORM_CERTIFICATE }];
  return list.map((c, i) => {
    const certificate = certificateInfo(c.certificate);
    const privateKey = privateKeyFromPem(c.privateKey);
    if (!isKeyPair(privateKey, certificate.publicKey)) throw new Error(`v3.platformCertificates[${i}]: the private key does not belong to certificate ${certificate.serial}`);
    return { kind: "certificate", serial: certificate.serial, privateKey, certificate };
  });
}

/** The API v3 keys and the trust setup in force (the mode and callback signer change until a reset). */
export class V3State {
  readonly merchantSerial: string;
  readonly merchantPublicKey: KeyObject;
  readonly apiV3Key: string;
  readonly publicKey: Signer | null;
  readonly certificates: Signer[];
  readonly billUrlValidityMs: number;
  mode: V3Mode;
  callbackSigner: CallbackSigner;
  /** tradebill download tokens → their files */
  readonly bills = new Map<string, BillFile>();
  private turns = 0;
  private readonly options: V3Options;

  /** Reads and checks the options; throws a clear Error on a key that does not parse or a mode without its key. */
  constructor(options: V3Options = {}) {
    this.options = options;
    const merchant = readMerchant(options);
    this.merchantSerial = merchant.serial;
    this.merchantPublicKey = merchant.publicKey;
    this.apiV3Key = options.apiV3Key ?? TEST_APIV3_KEY;
    if (Buffer.byteLength(this.apiV3Key, "utf8") !== 32) throw new Error("v3.apiV3Key must be the 32-character APIv3 key");
    this.publicKey = readPublicKey(options);
    this.certificates = readCertificates(options);
    this.billUrlValidityMs = (options.billUrlValiditySeconds ?? 300) * 1000;
    this.mode = options.mode ?? "publicKey";
    this.callbackSigner = options.callbackSigner ?? "alternate";
    const refusal = this.refusal(this.mode);
    if (refusal) throw new Error(refusal);
  }

  /** The WeChat Pay public key (SPKI PEM) a merchant configures in public-key mode, or null. */
  publicKeyPem(): string | null {
    return this.publicKey ? (createPublicKey(this.publicKey.privateKey).export({ type: "spki", format: "pem" }) as string) : null;
  }

  /** Why `mode` cannot be used with the configured keys (null when it can). */
  refusal(mode: V3Mode): string | null {
    if (mode !== "certificate" && !this.publicKey) return `mode ${mode} needs a WeChat Pay public key (v3.publicKey)`;
    if (mode !== "publicKey" && this.certificates.length === 0) return `mode ${mode} needs a platform certificate (v3.platformCertificates)`;
    return null;
  }

  /** The platform certificates WeChat would list at `now` (only those inside their validity). */
  validCertificates(now: number): Signer[] {
    return this.certificates.filter((c) => c.certificate && c.certificate.notBefore <= now && now <= c.certificate.notAfter);
  }

  private defaultCertificate(): Signer {
    return this.certificates[0] as Signer;
  }

  /**
   * The key that signs a response. Public-key mode: the public key. Certificate mode: the certificate the
   * request's Wechatpay-Serial names, else the first. Migrating: the public key when the request names its
   * id ("the response comes back signed with the public key"), a named certificate, else the first certificate.
   */
  responseSigner(requestSerial: string | null): Signer {
    if (this.mode === "publicKey") return this.publicKey as Signer;
    const named = this.certificates.find((c) => c.serial === requestSerial);
    if (named) return named;
    if (this.mode === "migrating" && requestSerial !== null && requestSerial === this.publicKey?.serial) return this.publicKey;
    return this.defaultCertificate();
  }

  /** Which kind of key signs the next callback (chosen once per notification; "alternate" takes turns). */
  nextCallbackKind(): "publicKey" | "certificate" {
    if (this.mode !== "migrating") return this.mode === "publicKey" ? "publicKey" : "certificate";
    if (this.callbackSigner !== "alternate") return this.callbackSigner;
    return this.turns++ % 2 === 0 ? "publicKey" : "certificate";
  }

  /** The key that signs a callback attempt now: the preferred kind when the current mode has it. */
  callbackSignerFor(kind: "publicKey" | "certificate"): Signer {
    if (this.mode === "publicKey") return this.publicKey as Signer;
    if (this.mode === "certificate") return this.defaultCertificate();
    return kind === "publicKey" ? (this.publicKey as Signer) : this.defaultCertificate();
  }

  /** POST /__sim/reset: mode and callback signer back to the options, no bill tokens, turns from the start. */
  reset(): void {
    this.mode = this.options.mode ?? "publicKey";
    this.callbackSigner = this.options.callbackSigner ?? "alternate";
    this.turns = 0;
    this.bills.clear();
  }
}
