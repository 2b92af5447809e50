// The v3 trust store (src/orders/v3/trust.ts) against real local KV, a controlled clock and a
// stand-in for GET /v3/certificates: which keys it trusts in each mode, the KV cache and its
// validity windows, downloads only in certificate mode, at most once per 60 s per configuration,
// and the cron's 12-hour refresh.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { V3Config } from "../../src/config";
import { CACHE_MAX_AGE_MS, platformCertsKey, REFRESH_MIN_INTERVAL_MS, V3Trust } from "../../src/orders/v3/trust";
import type { PlatformCertificate } from "../../src/wechatpay/v3/certificates";
import type { V3Result } from "../../src/wechatpay/v3/client";
import { importWechatPayPublicKey } from "../../src/wechatpay/v3/pem";
import { keyFile } from "./wechatpay-v3-fixtures";

const MCH = "1900000109";
const PUBLIC_KEY_ID = "PUB_KEY_ID_0100000000000000000000000000000001";
const GO_CERT = keyFile("keys/go-sdk-test.certificate.pem"); // serial D7CE59D1F522D701, 2021-04-27 → 2031-04-25
const REAL_CERT = keyFile("keys/java-sdk.downloaded-platform-certificate.pem"); // 5DEA…27EC, 2023-09-19 → 2028-09-17
const NOW = Date.parse("2026-12-03T02:00:00Z");

function config(overrides: Partial<V3Config> = {}): V3Config {
  const publicKey = overrides.publicKeyPem !== undefined ? overrides.publicKeyPem : keyFile("keys/java-sdk.wechat_pay_public_key.pem");
  const base: V3Config = {
    apiV3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
    merchantPrivateKeyPem: "unused here",
    merchantSerial: "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    publicKeyId: publicKey === null ? null : PUBLIC_KEY_ID,
    publicKeyPem: publicKey,
    pinnedPlatformCertPem: null,
    certificateMode: false,
    ...overrides,
  };
  return { ...base, certificateMode: base.publicKeyPem === null || base.pinnedPlatformCertPem !== null };
}

async function platformCertificate(pem: string, serialNo: string, effective: string, expire: string): Promise<PlatformCertificate> {
  return {
    serialNo,
    pem,
    effectiveTime: new Date(effective),
    expireTime: new Date(expire),
    notBefore: new Date(effective),
    notAfter: new Date(expire),
    publicKey: await importWechatPayPublicKey(pem),
  };
}

/** A trust store with a clock the test moves and a /v3/certificates stand-in that counts its calls. */
function setup(cfg: V3Config, answer: () => Promise<V3Result<PlatformCertificate[]>>) {
  const clock = { now: NOW };
  const calls = { downloads: 0 };
  const trust = () =>
    new V3Trust({
      config: cfg,
      mchId: MCH,
      kv: env.NOTIFY_KV,
      now: () => new Date(clock.now),
      download: () => {
        calls.downloads++;
        return answer();
      },
    });
  return { clock, calls, trust };
}

const goDownload = async (): Promise<V3Result<PlatformCertificate[]>> => ({
  ok: true,
  data: [await platformCertificate(GO_CERT, "D7CE59D1F522D701", "2021-04-27T08:55:23Z", "2031-04-25T08:55:23Z")],
  requestId: "req-1",
});

beforeEach(async () => {
  await env.NOTIFY_KV.delete(platformCertsKey(MCH));
});

describe("public-key mode", () => {
  it("trusts the public key under its id, reads no KV and never downloads", async () => {
    const { calls, trust } = setup(config(), goDownload);
    await env.NOTIFY_KV.put(platformCertsKey(MCH), JSON.stringify({ fetchedAt: NOW, certificates: [{ serialNo: "D7CE59D1F522D701", pem: GO_CERT, effectiveTime: 0, expireTime: NOW * 2 }] }));
    const t = trust();
    expect([...(await t.store()).keys()]).toEqual([PUBLIC_KEY_ID]);
    expect(await t.refresh("D7CE59D1F522D701")).toBeNull();
    expect(await t.refresh("PUB_KEY_ID_0199999999999999999999999999999999")).toBeNull();
    expect(await t.refreshIfStale()).toBe("not_certificate_mode");
    expect(calls.downloads).toBe(0);
    expect(t.downloads).toBe(0);
  });
});

describe("certificate mode", () => {
  it("downloads for an unknown hex serial, caches in KV, and a new store (another request) reads the cache", async () => {
    const cfg = config({ publicKeyPem: null });
    const { calls, trust } = setup(cfg, goDownload);
    const t = trust();
    expect((await t.store()).size).toBe(0);
    const refreshed = await t.refresh("D7CE59D1F522D701");
    expect(refreshed && [...refreshed.keys()]).toEqual(["D7CE59D1F522D701"]);
    expect([calls.downloads, t.downloads]).toEqual([1, 1]);
    const cached = await env.NOTIFY_KV.get<any>(platformCertsKey(MCH), "json");
    expect(cached).toEqual({
      fetchedAt: NOW,
      certificates: [{ serialNo: "D7CE59D1F522D701", pem: GO_CERT, effectiveTime: Date.parse("2021-04-27T08:55:23Z"), expireTime: Date.parse("2031-04-25T08:55:23Z") }],
    });
    const next = trust();
    expect([...(await next.store()).keys()]).toEqual(["D7CE59D1F522D701"]);
    expect(await next.refresh("D7CE59D1F522D701")).not.toBeNull(); // known from KV: no download
    expect(calls.downloads).toBe(1);
  });

  it("downloads at most once per 60 s per configuration; a serial WeChat does not list stays unknown", async () => {
    const cfg = config({ publicKeyPem: null });
    const { clock, calls, trust } = setup(cfg, goDownload);
    expect(await trust().refresh("7E57000000000000000000000000000000000001")).toBeNull();
    expect(await trust().refresh("7E57000000000000000000000000000000000002")).toBeNull();
    clock.now += REFRESH_MIN_INTERVAL_MS - 1;
    expect(await trust().refresh("7E57000000000000000000000000000000000003")).toBeNull();
    expect(calls.downloads).toBe(1);
    clock.now += 1;
    expect(await trust().refresh("7E57000000000000000000000000000000000004")).toBeNull();
    expect(calls.downloads).toBe(2);
    // Another configuration (another isolate's, or after a redeploy) has its own throttle.
    const other = setup(config({ publicKeyPem: null }), goDownload);
    await other.trust().refresh("7E57000000000000000000000000000000000005");
    expect(other.calls.downloads).toBe(1);
  });

  it("uses a cached certificate only between its effective and expiry times; a corrupt cache counts as empty", async () => {
    const cfg = config({ publicKeyPem: null });
    const { trust } = setup(cfg, goDownload);
    const entry = (serialNo: string, pem: string, effectiveTime: number, expireTime: number) => ({ serialNo, pem, effectiveTime, expireTime });
    await env.NOTIFY_KV.put(platformCertsKey(MCH), JSON.stringify({
      fetchedAt: NOW,
      certificates: [entry("D7CE59D1F522D701", GO_CERT, NOW - 1000, NOW - 1), entry("5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC", REAL_CERT, NOW + 1, NOW + 1000)],
    }));
    expect((await trust().store()).size).toBe(0);
    await env.NOTIFY_KV.put(platformCertsKey(MCH), JSON.stringify({ fetchedAt: NOW, certificates: [entry("D7CE59D1F522D701", GO_CERT, NOW - 1000, NOW + 1)] }));
    expect([...(await trust().store()).keys()]).toEqual(["D7CE59D1F522D701"]);
    await env.NOTIFY_KV.put(platformCertsKey(MCH), "{not json");
    expect((await trust().store()).size).toBe(0);
  });

  it("the cron refreshes an empty or 12-hour-old cache, not a fresh one; a refused download is 'failed' and caches nothing", async () => {
    const cfg = config({ publicKeyPem: null });
    const { clock, calls, trust } = setup(cfg, goDownload);
    expect(await trust().refreshIfStale()).toBe("downloaded");
    clock.now += CACHE_MAX_AGE_MS - 1;
    expect(await trust().refreshIfStale()).toBe("fresh");
    clock.now += 1;
    const t = trust();
    expect(await t.refreshIfStale()).toBe("downloaded");
    expect([calls.downloads, t.downloads]).toEqual([2, 1]);

    await env.NOTIFY_KV.delete(platformCertsKey(MCH));
    const refused = setup(config({ publicKeyPem: null }), async () => ({ ok: false, kind: "transport", message: "timeout" }));
    expect(await refused.trust().refreshIfStale()).toBe("failed");
    expect(await refused.trust().refreshIfStale()).toBe("throttled");
    expect(await env.NOTIFY_KV.get(platformCertsKey(MCH))).toBeNull();
  });
});

describe("migrating (public key + pinned certificate)", () => {
  it("trusts both, each by its exact serial, and downloads for other hex serials", async () => {
    const cfg = config({ pinnedPlatformCertPem: GO_CERT });
    expect(cfg.certificateMode).toBe(true);
    const { calls, trust } = setup(cfg, goDownload);
    const t = trust();
    expect([...(await t.store()).keys()].sort()).toEqual(["D7CE59D1F522D701", PUBLIC_KEY_ID]);
    expect(await t.refresh("5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC")).toBeNull();
    expect(calls.downloads).toBe(1);
    expect((await t.store()).has("d7ce59d1f522d701")).toBe(false); // exact match only
  });

  it("a pinned certificate outside its validity is not trusted", async () => {
    const { clock, trust } = setup(config({ pinnedPlatformCertPem: GO_CERT }), goDownload);
    clock.now = Date.parse("2031-04-25T08:55:24Z");
    expect([...(await trust().store()).keys()]).toEqual([PUBLIC_KEY_ID]);
  });
});
