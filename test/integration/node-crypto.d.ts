// The workerd test project uses Node's crypto (nodejs_compat) as an independent implementation; the
// workers types do not describe node: modules, so declare the functions the test oracle
// (test/oracle.ts) uses: hashes for signatures, AES-256-ECB for refund notifications' req_info.
declare module "node:crypto" {
  interface Hash {
    update(data: string, encoding?: "utf8"): Hash;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "md5" | "sha256"): Hash;
  export function createHmac(algorithm: "sha256", key: string): Hash;
  interface Cipher {
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    setAutoPadding(on: boolean): Cipher;
  }
  export function createCipheriv(algorithm: "aes-256-ecb", key: Uint8Array, iv: null): Cipher;
  export function createDecipheriv(algorithm: "aes-256-ecb", key: Uint8Array, iv: null): Cipher;
  // Mini-program message pushes: SHA-1 signatures and AES-256-CBC (with manual 32-byte padding).
  export function createHash(algorithm: "sha1"): Hash;
  export function createCipheriv(algorithm: "aes-256-cbc", key: Uint8Array, iv: Uint8Array): Cipher;
  export function createDecipheriv(algorithm: "aes-256-cbc", key: Uint8Array, iv: Uint8Array): Cipher;
  // WeChat Pay API v3: RSA-SHA256 signatures and AEAD_AES_256_GCM notification resources.
  interface Signer {
    update(data: string, encoding: "utf8"): Signer;
    sign(privateKeyPem: string, encoding: "base64"): string;
  }
  interface Verifier {
    update(data: string, encoding: "utf8"): Verifier;
    verify(publicKeyPem: string, signature: string, encoding: "base64"): boolean;
  }
  export function createSign(algorithm: "RSA-SHA256"): Signer;
  export function createVerify(algorithm: "RSA-SHA256"): Verifier;
  interface GcmCipher {
    setAAD(aad: Uint8Array): GcmCipher;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    getAuthTag(): Uint8Array;
  }
  export function createCipheriv(algorithm: "aes-256-gcm", key: Uint8Array, iv: Uint8Array): GcmCipher;
  // A PKCS#1 copy of a test key (the form /health must explain how to convert).
  interface KeyObject {
    export(options: { type: "pkcs1"; format: "pem" }): string;
  }
  export function createPrivateKey(pem: string): KeyObject;
}
