/**
 * The WeChat Pay API v3 part of the configuration (README, "Configuration"): which API new orders
 * use (WECHAT_PAY_API) and the v3 credentials. The credentials are read whenever they are set, not
 * only when new orders use v3: orders placed under v3 stay queryable and refundable after a switch
 * back to v2. Problems name variables, never values; key problems carry pem.ts's explanation (a
 * PKCS#1 key gets the openssl command that converts it).
 */
import { checkApiV3Key, parsePrivateKeyPem, parsePublicKeyPem, readCertificatePem, V3KeyError } from "./wechatpay/v3/pem";

/** Which WeChat Pay API new orders are placed with. */
export type PayApi = "v2" | "v3";

/** The merchant's v3 credentials and WeChat Pay's side of the trust (src/orders/v3/trust.ts). */
export interface V3Config {
  /** WECHAT_APIV3_KEY: the 32-character AES-256-GCM key of callbacks and /v3/certificates. */
  apiV3Key: string;
  /** WECHAT_MCH_PRIVATE_KEY: the merchant API private key, PKCS#8 PEM (signs requests and paySign). */
  merchantPrivateKeyPem: string;
  /** WECHAT_MCH_SERIAL: the merchant API certificate's serial (hex), `serial_no` in Authorization. */
  merchantSerial: string;
  /** WECHAT_PAY_PUBLIC_KEY_ID (`PUB_KEY_ID_…`) and WECHAT_PAY_PUBLIC_KEY (SPKI PEM): public-key mode. */
  publicKeyId: string | null;
  publicKeyPem: string | null;
  /** WECHAT_PAY_PLATFORM_CERT: a platform certificate trusted before (and besides) any download. */
  pinnedPlatformCertPem: string | null;
  /**
   * Whether platform certificates are in use, so /v3/certificates is downloaded (by the cron, and
   * once for an unknown hex serial): no public key (certificate mode), or a public key AND a pinned
   * certificate (a migration from certificates to the public key, both trusted).
   */
  certificateMode: boolean;
}

/** The variables this module reads. */
type V3Env = Pick<
  Env,
  | "WECHAT_PAY_API"
  | "WECHAT_APIV3_KEY"
  | "WECHAT_MCH_PRIVATE_KEY"
  | "WECHAT_MCH_SERIAL"
  | "WECHAT_PAY_PUBLIC_KEY_ID"
  | "WECHAT_PAY_PUBLIC_KEY"
  | "WECHAT_PAY_PLATFORM_CERT"
>;

const V3_NAMES = [
  "WECHAT_APIV3_KEY",
  "WECHAT_MCH_PRIVATE_KEY",
  "WECHAT_MCH_SERIAL",
  "WECHAT_PAY_PUBLIC_KEY_ID",
  "WECHAT_PAY_PUBLIC_KEY",
  "WECHAT_PAY_PLATFORM_CERT",
] as const;

/** WECHAT_PAY_API: `v2` (also when unset) or `v3`. */
export function payApiOf(env: Pick<Env, "WECHAT_PAY_API">, problems: string[]): PayApi {
  const value = env.WECHAT_PAY_API || "v2";
  if (value === "v2" || value === "v3") return value;
  problems.push("WECHAT_PAY_API must be v2 or v3");
  return "v2";
}

/**
 * The v3 credentials, or null when none is set (then WECHAT_PAY_API=v3 is a problem). Once any is
 * set, the key, the private key and the serial are required, and the public key id and key come
 * together. `payKeys` are the v2 keys (current and previous): the APIv3 key must differ from them
 * (a v2 key there only shows up later, as every callback failing to decrypt).
 */
export function v3ConfigOf(env: V3Env, payApi: PayApi, payKeys: readonly string[], problems: string[]): V3Config | null {
  const value = (name: (typeof V3_NAMES)[number]) => env[name] || null;
  if (V3_NAMES.every((name) => value(name) === null)) {
    if (payApi === "v3") problems.push("WECHAT_PAY_API=v3 needs WECHAT_APIV3_KEY, WECHAT_MCH_PRIVATE_KEY and WECHAT_MCH_SERIAL");
    return null;
  }
  const required = (name: (typeof V3_NAMES)[number]) => {
    const v = value(name);
    if (v === null) problems.push(`${name} is missing (the WeChat Pay API v3 credentials are set only in part)`);
    return v ?? "";
  };

  const apiV3Key = required("WECHAT_APIV3_KEY");
  if (apiV3Key !== "") {
    keyProblem("WECHAT_APIV3_KEY", problems, () => checkApiV3Key(apiV3Key));
    if (payKeys.includes(apiV3Key)) problems.push("WECHAT_APIV3_KEY must differ from WECHAT_PAY_KEY (the APIv3 key is set separately: merchant platform → API security)");
  }
  const merchantPrivateKeyPem = required("WECHAT_MCH_PRIVATE_KEY");
  if (merchantPrivateKeyPem !== "") keyProblem("WECHAT_MCH_PRIVATE_KEY", problems, () => parsePrivateKeyPem(merchantPrivateKeyPem));
  const merchantSerial = required("WECHAT_MCH_SERIAL");
  if (merchantSerial !== "" && !/^[0-9A-Fa-f]{2,64}$/.test(merchantSerial)) {
    problems.push("WECHAT_MCH_SERIAL must be the merchant API certificate's serial in hex (openssl x509 -noout -serial -in apiclient_cert.pem)");
  }

  const publicKeyId = value("WECHAT_PAY_PUBLIC_KEY_ID");
  const publicKeyPem = value("WECHAT_PAY_PUBLIC_KEY");
  if (publicKeyId !== null && publicKeyPem === null) problems.push("WECHAT_PAY_PUBLIC_KEY_ID needs WECHAT_PAY_PUBLIC_KEY");
  if (publicKeyPem !== null && publicKeyId === null) problems.push("WECHAT_PAY_PUBLIC_KEY needs WECHAT_PAY_PUBLIC_KEY_ID");
  if (publicKeyId !== null && !/^PUB_KEY_ID_[0-9A-Za-z]{1,64}$/.test(publicKeyId)) {
    problems.push("WECHAT_PAY_PUBLIC_KEY_ID must be the public key's id as shown on the merchant platform (PUB_KEY_ID_…)");
  }
  if (publicKeyPem !== null) {
    keyProblem("WECHAT_PAY_PUBLIC_KEY", problems, () => {
      if (parsePublicKeyPem(publicKeyPem).certificate) throw new V3KeyError("WRONG_PEM_TYPE", "expected the WeChat Pay public key (pub_key.pem, BEGIN PUBLIC KEY), got a certificate");
    });
  }
  const pinnedPlatformCertPem = value("WECHAT_PAY_PLATFORM_CERT");
  if (pinnedPlatformCertPem !== null) keyProblem("WECHAT_PAY_PLATFORM_CERT", problems, () => readCertificatePem(pinnedPlatformCertPem));

  const hasPublicKey = publicKeyId !== null && publicKeyPem !== null;
  return {
    apiV3Key,
    merchantPrivateKeyPem,
    merchantSerial,
    publicKeyId: hasPublicKey ? publicKeyId : null,
    publicKeyPem: hasPublicKey ? publicKeyPem : null,
    pinnedPlatformCertPem,
    certificateMode: !hasPublicKey || pinnedPlatformCertPem !== null,
  };
}

/** Runs a pem.ts check; a V3KeyError becomes a problem naming the variable (its message has no key material). */
function keyProblem(name: string, problems: string[], check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (!(error instanceof V3KeyError)) throw error;
    problems.push(`${name}: ${error.message}`);
  }
}

/**
 * A stretch of the base64 body of each public TEST key that .dev.vars.example and the simulator
 * use (test/fixtures/wechatpay-v3/keys: wechatpay-java's merchant private key and WeChat Pay public
 * key). Comparing a slice of the modulus is enough to recognise them, and costs no whole PEM.
 */
const EXAMPLE_KEY_FRAGMENTS = ["Gn/UNryHLdX0yBvCqD0p92/BdlCIBi0dmzZzrfc+", "fkTVJ7hn6Lvp6m4dCq+d/txH9BDaE2ztUtuAYTb+"];

/** The ids and the APIv3 key of .dev.vars.example and the simulator's TEST-ONLY defaults. */
const V3_EXAMPLE_VALUES = [
  "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
  "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
  "PUB_KEY_ID_0100000000000000000000000000000001",
];

/** Real money: refuses the public test keys and ids (only called against WeChat's production host). */
export function v3ExampleProblems(v3: V3Config, problems: string[]): void {
  const isExample = (value: string | null) => value !== null && V3_EXAMPLE_VALUES.includes(value);
  const isExampleKey = (pem: string | null) => {
    const body = (pem ?? "").replace(/\\n|-----[A-Z ]+-----|\s/g, "");
    return EXAMPLE_KEY_FRAGMENTS.some((fragment) => body.includes(fragment));
  };
  if (isExample(v3.apiV3Key)) problems.push("WECHAT_APIV3_KEY is a public test key");
  if (isExample(v3.merchantSerial)) problems.push("WECHAT_MCH_SERIAL is the serial of a public test certificate");
  if (isExample(v3.publicKeyId)) problems.push("WECHAT_PAY_PUBLIC_KEY_ID is the test id of .dev.vars.example");
  if (isExampleKey(v3.merchantPrivateKeyPem)) problems.push("WECHAT_MCH_PRIVATE_KEY is a public test key");
  if (isExampleKey(v3.publicKeyPem)) problems.push("WECHAT_PAY_PUBLIC_KEY is a public test key");
}
