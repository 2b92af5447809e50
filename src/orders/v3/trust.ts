/**
 * The WeChat Pay API v3 trust store: which keys verify WeChat's replies and callbacks, by the exact
 * `Wechatpay-Serial` that selects them (docs/ARCHITECTURE.md, "How v3 is wired"):
 * - the WeChat Pay public key under its id (`PUB_KEY_ID_…`, public-key mode);
 * - the platform certificates downloaded from /v3/certificates, cached in KV under
 *   `wx:v3:platform_certs:<mchid>`, each only between its effective and expiry times (certificate mode);
 * - a pinned platform certificate (WECHAT_PAY_PLATFORM_CERT), within its own validity.
 * Both kinds at once is a migration from certificates to the public key: WeChat picks per message.
 *
 * KV is a cache, never a source of truth about money: losing it costs one download. Downloads
 * happen only in certificate (or migrating) mode: from the cron when the cache is empty or older
 * than 12 hours, and when a reply or callback names an unknown hex serial, at most once per 60 s
 * per isolate and configuration. An unknown `PUB_KEY_ID_…` cannot be fetched: it is a configuration
 * problem, logged, never a download.
 */
import type { V3Config } from "../../config";
import { logEvent } from "../../log";
import type { PlatformCertificate } from "../../wechatpay/v3/certificates";
import type { V3Result } from "../../wechatpay/v3/client";
import { importWechatPayPublicKey, readCertificatePem } from "../../wechatpay/v3/pem";
import { isPublicKeyId, type TrustStore } from "../../wechatpay/v3/verify";

/** KV key of the cached platform certificates of a merchant. */
export const platformCertsKey = (mchId: string) => `wx:v3:platform_certs:${mchId}`;
/** Downloads for unknown serials: at most one per this interval per isolate and configuration. */
export const REFRESH_MIN_INTERVAL_MS = 60_000;
/** The cron refreshes a cache older than this (new certificates appear before old ones expire). */
export const CACHE_MAX_AGE_MS = 12 * 3600_000;
/** A cache entry outlives the cron's refreshes by far; it only keeps KV from holding it forever. */
const CACHE_TTL_SECONDS = 7 * 24 * 3600;

/** What KV holds: when the certificates were downloaded, and each one as WeChat described it. */
export interface CachedPlatformCertificates {
  fetchedAt: number;
  certificates: { serialNo: string; pem: string; effectiveTime: number; expireTime: number }[];
}

/** Everything the trust store needs: the v3 settings, where to cache, a clock and the download call. */
export interface V3TrustOptions {
  config: V3Config;
  mchId: string;
  kv: KVNamespace;
  now: () => Date;
  /** `GET /v3/certificates` (WechatPayV3Client.downloadCertificates). */
  download: () => Promise<V3Result<PlatformCertificate[]>>;
}

/** What the cron's {@link V3Trust.refreshIfStale} did. */
export type RefreshOutcome = "not_certificate_mode" | "fresh" | "downloaded" | "failed" | "throttled";

/** Last download attempt per configuration (the config object is stable per isolate: loadConfig caches it). */
const lastAttempt = new WeakMap<V3Config, number>();

/**
 * One trust store per request or cron run (deps.v3Trust()). The map is built once and rebuilt
 * after a refresh; `downloads` counts the /v3/certificates calls made through it (subrequests).
 */
export class V3Trust {
  readonly #o: V3TrustOptions;
  #store: Promise<TrustStore> | null = null;
  /** What this instance downloaded, used instead of reading it back (KV is eventually consistent). */
  #downloaded: CachedPlatformCertificates | null = null;
  /** /v3/certificates calls made through this instance. */
  downloads = 0;

  constructor(options: V3TrustOptions) {
    this.#o = options;
  }

  /** The keys trusted now. Rejects only if a configured key cannot be imported (a config problem). */
  store(): Promise<TrustStore> {
    this.#store ??= this.#build().catch((error: unknown) => {
      this.#store = null;
      throw error;
    });
    return this.#store;
  }

  /**
   * For a `Wechatpay-Serial` not in the store (the client's `refreshTrust`, and the callbacks): the
   * store again if the serial is now known (another isolate or the cron may have cached it), after
   * at most one download; null when it stays unknown. Never throws.
   */
  async refresh(serial: string): Promise<TrustStore | null> {
    const { config } = this.#o;
    if (isPublicKeyId(serial)) {
      // A public-key id cannot be downloaded: WECHAT_PAY_PUBLIC_KEY_ID is not the one WeChat uses.
      logEvent("v3_unknown_public_key_id", { serial, configured: config.publicKeyId });
      return null;
    }
    if (!config.certificateMode) {
      logEvent("v3_unknown_serial", { serial, mode: "public_key" });
      return null;
    }
    try {
      this.#store = null;
      const cached = await this.store();
      if (cached.has(serial)) return cached;
      if (!(await this.#download())) return null;
      const refreshed = await this.store();
      if (refreshed.has(serial)) return refreshed;
      logEvent("v3_unknown_serial", { serial, mode: "certificate" });
      return null;
    } catch (error) {
      logEvent("v3_trust_refresh_failed", { serial, error: error instanceof Error ? error.name : "unknown" });
      return null;
    }
  }

  /**
   * The cron's refresh: in certificate (or migrating) mode, downloads when the cache is empty,
   * holds no certificate valid now, or is older than {@link CACHE_MAX_AGE_MS}.
   */
  async refreshIfStale(): Promise<RefreshOutcome> {
    if (!this.#o.config.certificateMode) return "not_certificate_mode";
    const now = this.#o.now().getTime();
    const cached = await this.#readCache();
    const fresh = cached !== null && now - cached.fetchedAt < CACHE_MAX_AGE_MS && cached.certificates.some((c) => isValidAt(c, now));
    if (fresh) return "fresh";
    const last = lastAttempt.get(this.#o.config);
    if (last !== undefined && now - last < REFRESH_MIN_INTERVAL_MS) return "throttled";
    const downloaded = await this.#download();
    return downloaded ? "downloaded" : "failed";
  }

  /** One throttled download into KV; false when throttled or when WeChat's answer was not usable. */
  async #download(): Promise<boolean> {
    const { config, kv, mchId, now } = this.#o;
    const at = now().getTime();
    const last = lastAttempt.get(config);
    if (last !== undefined && at - last < REFRESH_MIN_INTERVAL_MS) return false;
    lastAttempt.set(config, at);
    this.downloads++;
    const result = await this.#o.download();
    if (!result.ok) {
      const code = result.kind === "api_error" ? result.error.code : result.kind === "unverified" ? result.reason : result.message;
      logEvent("v3_certificates_download_failed", { kind: result.kind, code });
      return false;
    }
    const value: CachedPlatformCertificates = {
      fetchedAt: at,
      certificates: result.data.map((c) => ({ serialNo: c.serialNo, pem: c.pem, effectiveTime: c.effectiveTime.getTime(), expireTime: c.expireTime.getTime() })),
    };
    this.#downloaded = value;
    this.#store = null; // rebuilt from what was just downloaded
    try {
      await kv.put(platformCertsKey(mchId), JSON.stringify(value), { expirationTtl: CACHE_TTL_SECONDS });
    } catch {
      logEvent("v3_certificates_cache_failed", {}); // this run still uses them; the next one downloads again
    }
    logEvent("v3_certificates_downloaded", { count: value.certificates.length, serials: value.certificates.map((c) => c.serialNo).join(",") });
    return true;
  }

  async #build(): Promise<TrustStore> {
    const { config } = this.#o;
    const now = this.#o.now().getTime();
    const store = new Map<string, CryptoKey>();
    if (config.publicKeyId !== null && config.publicKeyPem !== null) {
      store.set(config.publicKeyId, await importWechatPayPublicKey(config.publicKeyPem));
    }
    if (config.pinnedPlatformCertPem !== null) {
      const pinned = readCertificatePem(config.pinnedPlatformCertPem);
      if (pinned.notBefore.getTime() <= now && now < pinned.notAfter.getTime()) {
        store.set(pinned.serialHex, await importWechatPayPublicKey(config.pinnedPlatformCertPem));
      } else {
        logEvent("v3_pinned_certificate_not_valid_now", { serial: pinned.serialHex });
      }
    }
    if (config.certificateMode) {
      for (const cert of (this.#downloaded ?? (await this.#readCache()))?.certificates ?? []) {
        if (!isValidAt(cert, now) || store.has(cert.serialNo)) continue;
        try {
          store.set(cert.serialNo, await importWechatPayPublicKey(cert.pem));
        } catch {
          logEvent("v3_cached_certificate_unusable", { serial: cert.serialNo });
        }
      }
    }
    return store;
  }

  /** The KV cache, or null when absent or unreadable (a KV outage only costs a download). */
  async #readCache(): Promise<CachedPlatformCertificates | null> {
    try {
      const value = await this.#o.kv.get<CachedPlatformCertificates>(platformCertsKey(this.#o.mchId), "json");
      return value && typeof value.fetchedAt === "number" && Array.isArray(value.certificates) ? value : null;
    } catch {
      return null;
    }
  }
}

function isValidAt(cert: CachedPlatformCertificates["certificates"][number], now: number): boolean {
  return cert.effectiveTime <= now && now < cert.expireTime;
}
