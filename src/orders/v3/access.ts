/**
 * Access to WeChat Pay API v3 for one Deps (one request or cron run): one trust store and one
 * WechatPayV3Client sharing it, built on first use. Without v3 credentials every v3 operation
 * fails with {@link v3NotConfigured} (an order placed under v3 after the credentials were removed).
 */
import type { Config } from "../../config";
import { ApiError } from "../../errors";
import type { Fetcher } from "../../wechatpay/http";
import { WechatPayV3Client } from "../../wechatpay/v3/client";
import { importMerchantPrivateKey } from "../../wechatpay/v3/pem";
import { V3Trust } from "./trust";

/** 503: the deployment has no (valid) v3 credentials, so orders placed under v3 cannot be served. */
export const v3NotConfigured = () =>
  new ApiError(503, "CONFIG_ERROR", "WeChat Pay API v3 is not configured (WECHAT_APIV3_KEY, WECHAT_MCH_PRIVATE_KEY, WECHAT_MCH_SERIAL); see GET /health");

export interface V3Access {
  /** The trust store (throws {@link v3NotConfigured} without v3 credentials). */
  trust(): V3Trust;
  /** The client (rejects with {@link v3NotConfigured} without v3 credentials). */
  client(): Promise<WechatPayV3Client>;
}

export interface V3AccessOptions {
  config: Config;
  kv: KVNamespace;
  now: () => Date;
  fetch: Fetcher;
  maxBillBytes: number;
}

/** Lazily builds the trust store and the client; the merchant key is imported once per isolate (pem.ts). */
export function v3Access(options: V3AccessOptions): V3Access {
  const { config, kv, now } = options;
  let trust: V3Trust | undefined;
  let client: Promise<WechatPayV3Client> | undefined;
  const getTrust = (): V3Trust => {
    const v3 = config.v3;
    if (!v3) throw v3NotConfigured();
    // The download goes through the client, which verifies the reply with the certificates in it.
    trust ??= new V3Trust({ config: v3, mchId: config.mchId, kv, now, download: async () => (await getClient()).downloadCertificates() });
    return trust;
  };
  const getClient = (): Promise<WechatPayV3Client> => {
    client ??= (async () => {
      const v3 = config.v3;
      if (!v3) throw v3NotConfigured();
      const store = getTrust();
      return new WechatPayV3Client({
        appid: config.appId,
        mchid: config.mchId,
        merchantSerialNo: v3.merchantSerial,
        privateKey: await importMerchantPrivateKey(v3.merchantPrivateKeyPem),
        apiV3Key: v3.apiV3Key,
        trust: () => store.store(),
        refreshTrust: (serial) => store.refresh(serial),
        ...(v3.publicKeyId !== null ? { publicKeyId: v3.publicKeyId } : {}),
        baseUrl: config.payBase,
        fetch: options.fetch,
        now,
        maxBillBytes: options.maxBillBytes,
      });
    })();
    client.catch(() => (client = undefined));
    return client;
  };
  return { trust: getTrust, client: getClient };
}
