// The v3 client (src/wechatpay/v3/client.ts) with an injected fetcher inside workerd: every request
// byte-exact against request-signing.computed.json (clock and nonce frozen) with Accept, User-Agent,
// Content-Type and Wechatpay-Serial; replies signed here as WeChat signs them (Web Crypto directly,
// not src/) and verified over the raw body; unsigned 2xx, probes and unknown serials refused;
// certificate refresh for an unknown hex serial; error bodies mapped; the trade bill's SHA-1 and
// gzip; /v3/certificates decrypted and self-verified.
import { describe, expect, it, vi } from "vitest";
import requestSigning from "../fixtures/wechatpay-v3/request-signing.computed.json";
import responses from "../fixtures/wechatpay-v3/responses.computed.json";
import allCsv from "../fixtures/wechatpay-v2/downloadbill_ALL_wechatpay-axios-plugin.csv?raw";
import { WechatPayV3Client, type WechatPayV3ClientOptions } from "../../src/wechatpay/v3/client";
import { importMerchantPrivateKey, importWechatPayPublicKey } from "../../src/wechatpay/v3/pem";
import { atSeconds, keyFile, rsaVerify, wechatEncrypt, wechatSign } from "./wechatpay-v3-fixtures";

const PUB_KEY_ID = "PUB_KEY_ID_0100000000000000000000000000000001";
const WECHAT_KEY = keyFile("keys/java-sdk.wechat_pay_private_key.pem");
const APIV3_KEY = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
const T = Number(requestSigning.timestamp);
const vector = (id: string) => requestSigning.vectors.find((v) => v.id === id)!;
const wechatPayPublicKey = await importWechatPayPublicKey(keyFile("keys/java-sdk.wechat_pay_public_key.pem"));

interface Seen { method: string; url: string; headers: Headers; body: string }

/** A signed JSON reply as WeChat sends it (timestamp = the client's frozen clock). */
async function signedReply(status: number, body: string, opts: { serial?: string; key?: string; ts?: number; headers?: Record<string, string> } = {}): Promise<Response> {
  const ts = String(opts.ts ?? T);
  const nonce = "a87ff679a2f3e71d9181a67b7542122c";
  const signature = await wechatSign(opts.key ?? WECHAT_KEY, `${ts}\n${nonce}\n${body}\n`);
  const headers = { "Content-Type": "application/json", "Request-ID": "req-1", "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": opts.serial ?? PUB_KEY_ID, "Wechatpay-Signature": signature, ...opts.headers };
  return new Response(status === 204 ? null : body, { status, headers });
}

/** A client for the vectors' merchant (Java merchant key) with a frozen clock and nonce, replying with `reply`. */
async function clientWith(reply: (req: Seen) => Response | Promise<Response>, overrides: Partial<WechatPayV3ClientOptions> = {}) {
  const seen: Seen[] = [];
  const fetch = vi.fn(async (req: Request) => {
    const s = { method: req.method, url: req.url, headers: req.headers, body: await req.text() };
    seen.push(s);
    return reply(s);
  });
  const client = new WechatPayV3Client({
    appid: "wxd678efh567hg6787",
    mchid: requestSigning.mchid,
    merchantSerialNo: requestSigning.serial_no,
    privateKey: await importMerchantPrivateKey(keyFile(requestSigning.private_key)),
    apiV3Key: APIV3_KEY,
    trust: () => new Map([[PUB_KEY_ID, wechatPayPublicKey]]),
    publicKeyId: PUB_KEY_ID,
    baseUrl: "https://api.mch.weixin.qq.com/",
    fetch,
    now: () => atSeconds(T),
    nonce: () => requestSigning.nonce_str,
    ...overrides,
  });
  return { client, seen, fetch };
}

const prepayRequest = {
  description: "Image形象店-深圳腾大-QQ公仔",
  out_trade_no: "1217752501201407033233368018",
  time_expire: "2018-06-08T10:34:56+08:00",
  attach: "自定义数据说明",
  notify_url: "https://www.weixin.qq.com/wxpay/pay.php",
  amount: { total: 100 },
  payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
};
const transaction = { transaction_id: "4200000000202512020000000001", amount: { payer_total: 100, total: 100, currency: "CNY", payer_currency: "CNY" }, mchid: "1230000109", trade_state: "SUCCESS", success_time: "2025-12-02T16:00:00+08:00", payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" }, out_trade_no: "1217752501201407033233368018", appid: "wxd678efh567hg6787" };
const refundReply = { refund_id: "50300000000000000000000000001", out_refund_no: "1217752501201407033233368018R1", transaction_id: "4200000000202512020000000001", out_trade_no: "1217752501201407033233368018", channel: "ORIGINAL", user_received_account: "支付用户零钱", create_time: "2025-12-02T16:04:00+08:00", status: "PROCESSING", amount: { total: 100, refund: 100, payer_total: 100, payer_refund: 100, currency: "CNY" } };

describe("requests: byte-exact against request-signing.computed.json", () => {
  const calls: [string, (c: WechatPayV3Client) => Promise<unknown>, (req: Seen) => Response | Promise<Response>][] = [
    ["jsapi-prepay", (c) => c.prepayJsapi(prepayRequest), () => signedReply(200, '{"prepay_id":"wx2014"}')],
    ["query-by-out-trade-no", (c) => c.queryByOutTradeNo("1217752501201407033233368018"), () => signedReply(200, JSON.stringify(transaction))],
    ["close", (c) => c.closeOrder("1217752501201407033233368018"), () => signedReply(204, "")],
    ["refund", (c) => c.refund({ out_trade_no: "1217752501201407033233368018", out_refund_no: "1217752501201407033233368018R1", reason: "商品已售完", notify_url: "https://www.weixin.qq.com/wxpay/refund.php", amount: { refund: 100, total: 100 } }), () => signedReply(200, JSON.stringify(refundReply))],
    ["refund-query", (c) => c.queryRefund("1217752501201407033233368018R1"), () => signedReply(200, JSON.stringify(refundReply))],
    ["tradebill", (c) => c.applyTradeBill({ billDate: "2019-06-11", gzip: true }), () => signedReply(200, '{"hash_type":"SHA1","hash_value":"00","download_url":"https://api.mch.weixin.qq.com/v3/billdownload/file?token=xxx"}')],
    ["billdownload", (c) => c.downloadBill({ hash_type: "SHA1", hash_value: "00", download_url: "https://api.mch.weixin.qq.com/v3/billdownload/file?token=xxx" }), () => new Response("x")],
    ["certificates", (c) => c.downloadCertificates(), () => new Response('{"code":"RESOURCE_NOT_EXISTS","message":"无可用的平台证书"}', { status: 404 })],
  ];
  for (const [id, call, reply] of calls) {
    it(`${id}: Authorization, method, URL and body exactly as the vector; Accept, User-Agent, Content-Type, Wechatpay-Serial`, async () => {
      const { client, seen } = await clientWith(reply);
      const result = await call(client);
      const v = vector(id);
      expect(seen).toHaveLength(1);
      const req = seen[0]!;
      expect(req.method).toBe(v.method);
      expect(req.url).toBe(`https://api.mch.weixin.qq.com${v.canonical_url}`);
      expect(req.body).toBe(v.body);
      expect(req.headers.get("authorization")).toBe(v.authorization);
      expect(req.headers.get("accept")).toBe("application/json");
      expect(req.headers.get("user-agent")).toMatch(/\S/);
      expect(req.headers.get("content-type")).toBe(v.body === "" ? null : "application/json");
      expect(req.headers.get("wechatpay-serial")).toBe(PUB_KEY_ID);
      if (id !== "billdownload" && id !== "certificates") expect(result).toMatchObject({ ok: true });
    });
  }

  it("a signature the merchant's public key verifies (fresh clock and nonce; no Wechatpay-Serial without a public-key id)", async () => {
    const seen: Seen[] = [];
    const client = new WechatPayV3Client({
      appid: "wxd678efh567hg6787", mchid: "1900009191", merchantSerialNo: "D7CE59D1F522D701",
      privateKey: await importMerchantPrivateKey(keyFile("keys/go-sdk-test.private-key.pkcs8.pem")),
      apiV3Key: APIV3_KEY, trust: () => new Map(), baseUrl: "https://api.mch.weixin.qq.com",
      fetch: async (req) => { seen.push({ method: req.method, url: req.url, headers: req.headers, body: await req.text() }); return new Response("", { status: 500 }); },
    });
    await client.prepayJsapi(prepayRequest);
    const auth = seen[0]!.headers.get("authorization")!;
    const f = Object.fromEntries([...auth.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    expect(f).toMatchObject({ mchid: "1900009191", serial_no: "D7CE59D1F522D701" });
    expect(Math.abs(Number(f.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(f.nonce_str).toMatch(/^[0-9A-Za-z]{32}$/);
    const message = `POST\n/v3/pay/transactions/jsapi\n${f.timestamp}\n${f.nonce_str}\n${seen[0]!.body}\n`;
    expect(await rsaVerify(keyFile("keys/go-sdk-test.public-key.spki.pem"), message, f.signature!)).toBe(true);
    expect(seen[0]!.headers.get("wechatpay-serial")).toBeNull();
  });

  it("refuses bad input before anything is sent", async () => {
    const { client, fetch } = await clientWith(() => new Response(""));
    expect(() => client.prepayJsapi({ ...prepayRequest, description: "茶 🍵" })).toThrow(TypeError);
    expect(() => client.prepayJsapi({ ...prepayRequest, amount: { total: 1.5 } })).toThrow(TypeError);
    expect(() => client.prepayJsapi({ ...prepayRequest, amount: { total: 0 } })).toThrow(TypeError);
    expect(() => client.prepayJsapi({ ...prepayRequest, time_expire: "2018-06-08 10:34:56" })).toThrow(RangeError);
    expect(() => client.refund({ out_trade_no: "a".repeat(6), out_refund_no: "r".repeat(6), amount: { refund: 101, total: 100 } })).toThrow(TypeError);
    expect(() => client.queryByOutTradeNo("")).toThrow(TypeError);
    expect(() => client.applyTradeBill({ billDate: "20190611" })).toThrow(TypeError);
    expect(() => client.tradeBill({ billDate: "2019-6-11" })).toThrow(TypeError);
    expect(() => client.closeOrder("")).toThrow(TypeError);
    expect(() => client.queryRefund("x".repeat(65))).toThrow(TypeError);
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe("replies", () => {
  it("responses.computed.json jsapi-200 and close-204 verify through the client (clock at the vector's time)", async () => {
    const [prepay, close] = responses.vectors;
    const at = { now: () => atSeconds(responses.now) };
    const a = await clientWith(() => new Response(prepay!.body, { status: 200, headers: prepay!.headers }), at);
    expect(await a.client.prepayJsapi(prepayRequest)).toEqual({ ok: true, data: { prepay_id: "wx201410272009395522657a690389285100" }, requestId: prepay!.headers["Request-ID"] });
    const b = await clientWith(() => new Response(null, { status: 204, headers: close!.headers }), at);
    expect(await b.client.closeOrder("1217752501201407033233368018")).toEqual({ ok: true, data: null, requestId: close!.headers["Request-ID"] });
  });

  it("typed transaction and refund replies", async () => {
    const q = await clientWith(() => signedReply(200, JSON.stringify(transaction)));
    expect(await q.client.queryByOutTradeNo("1217752501201407033233368018")).toMatchObject({ ok: true, data: { trade_state: "SUCCESS", amount: { total: 100, payer_total: 100 } } });
    const r = await clientWith(() => signedReply(200, JSON.stringify(refundReply)));
    expect(await r.client.refund({ out_trade_no: "1217752501201407033233368018", out_refund_no: "R1abcd", amount: { refund: 100, total: 100 } })).toMatchObject({ ok: true, data: { status: "PROCESSING", channel: "ORIGINAL" } });
    const unpaid = { appid: "wxd678efh567hg6787", mchid: "1230000109", out_trade_no: "1217752501201407033233368018", trade_state: "NOTPAY", trade_state_desc: "订单未支付", payer: {}, amount: { total: 100, currency: "CNY" } };
    const n = await clientWith(() => signedReply(200, JSON.stringify(unpaid)));
    expect(await n.client.queryByOutTradeNo("1217752501201407033233368018")).toMatchObject({ ok: true, data: { trade_state: "NOTPAY", payer: undefined, transaction_id: undefined } });
    // What WeChat really sends for an unpaid order: no currency and no payer at all (only payer_currency).
    const bare = { amount: { payer_currency: "CNY", total: 1 }, appid: "wxd678efh567hg6787", mchid: "1230000109", out_trade_no: "1217752501201407033233368018", trade_state: "NOTPAY", trade_state_desc: "订单未支付" };
    const m = await clientWith(() => signedReply(200, JSON.stringify(bare)));
    expect(await m.client.queryByOutTradeNo("1217752501201407033233368018")).toMatchObject({ ok: true, data: { trade_state: "NOTPAY", amount: { total: 1, currency: undefined } } });
    // A paid one without its currency is not trusted as a payment.
    const paidNoCurrency = { ...transaction, amount: { total: 100, payer_total: 100 } };
    const p = await clientWith(() => signedReply(200, JSON.stringify(paidNoCurrency)));
    expect(await p.client.queryByOutTradeNo("1217752501201407033233368018")).toMatchObject({ ok: false, kind: "malformed" });
  });

  it("an unsigned 2xx is an upstream failure, never data", async () => {
    const { client } = await clientWith(() => new Response('{"prepay_id":"wx-forged"}', { status: 200, headers: { "Request-ID": "r" } }));
    expect(await client.prepayJsapi(prepayRequest)).toEqual({ ok: false, kind: "unverified", reason: "unsigned", message: "no Wechatpay-Signature headers", requestId: "r" });
  });

  it("an edited body, a probe and a stale reply are refused", async () => {
    const edited = await clientWith(async () => {
      const res = await signedReply(200, '{"prepay_id":"wx2014"}');
      return new Response('{"prepay_id":"wx2015"}', { status: 200, headers: res.headers });
    });
    expect(await edited.client.prepayJsapi(prepayRequest)).toMatchObject({ ok: false, kind: "unverified", reason: "bad_signature" });
    const probe = await clientWith(() => signedReply(200, '{"prepay_id":"wx2014"}', { headers: { "Wechatpay-Signature": "WECHATPAY/SIGNTEST/abc" } }));
    expect(await probe.client.prepayJsapi(prepayRequest)).toMatchObject({ ok: false, kind: "unverified", reason: "probe" });
    const stale = await clientWith(() => signedReply(200, '{"prepay_id":"wx2014"}', { ts: T - 301 }));
    expect(await stale.client.prepayJsapi(prepayRequest)).toMatchObject({ ok: false, kind: "unverified", reason: "stale" });
  });

  it("a signed 2xx without the expected fields is malformed", async () => {
    const { client } = await clientWith(() => signedReply(200, '{"prepay":"wx2014"}'));
    expect(await client.prepayJsapi(prepayRequest)).toMatchObject({ ok: false, kind: "malformed", message: "prepay_id must be a non-empty string" });
  });

  it("an unknown certificate serial refreshes the trust store once and then verifies", async () => {
    const serial = "440024045C4A427599D09BB4E3DE0279F2E813FD";
    const refreshTrust = vi.fn(async () => new Map([[serial, wechatPayPublicKey]]));
    const { client } = await clientWith(() => signedReply(200, '{"prepay_id":"wx2014"}', { serial }), { refreshTrust });
    expect(await client.prepayJsapi(prepayRequest)).toMatchObject({ ok: true, data: { prepay_id: "wx2014" } });
    expect(refreshTrust).toHaveBeenCalledExactlyOnceWith(serial);
  });

  it("a refresh that fails leaves the reply unverified, without throwing", async () => {
    const refreshTrust = vi.fn(async () => { throw new Error("KV down"); });
    const { client } = await clientWith(() => signedReply(200, '{"prepay_id":"wx2014"}', { serial: "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC" }), { refreshTrust });
    expect(await client.prepayJsapi(prepayRequest)).toMatchObject({ ok: false, kind: "unverified", reason: "unknown_serial" });
    expect(refreshTrust).toHaveBeenCalledOnce();
  });

  it("an unknown public-key id is not refreshed (it cannot be fetched): unverified unknown_serial", async () => {
    const refreshTrust = vi.fn(async () => new Map());
    const { client } = await clientWith(() => signedReply(200, '{"prepay_id":"wx2014"}', { serial: "PUB_KEY_ID_0199999999999999999999999999999999" }), { refreshTrust });
    expect(await client.prepayJsapi(prepayRequest)).toMatchObject({ ok: false, kind: "unverified", reason: "unknown_serial", serial: "PUB_KEY_ID_0199999999999999999999999999999999" });
    expect(refreshTrust).not.toHaveBeenCalled();
  });

  it("error bodies: unsigned → unverified error; signed → verified; retryable per code", async () => {
    const used = await clientWith(() => new Response('{"code":"OUT_TRADE_NO_USED","message":"商户订单号重复"}', { status: 403, headers: { "Request-ID": "r9" } }));
    const a = await used.client.prepayJsapi(prepayRequest);
    expect(a).toMatchObject({ ok: false, kind: "api_error", error: { status: 403, code: "OUT_TRADE_NO_USED", retryable: false, verified: false, requestId: "r9" } });
    const missing = await clientWith(() => signedReply(404, '{"code":"ORDER_NOT_EXIST","message":"订单不存在"}'));
    expect(await missing.client.queryByOutTradeNo("1217752501201407033233368018")).toMatchObject({ ok: false, kind: "api_error", error: { code: "ORDER_NOT_EXIST", verified: true } });
    const busy = await clientWith(() => new Response('{"code":"SYSTEM_ERROR","message":"系统错误"}', { status: 500 }));
    expect(await busy.client.refund({ out_trade_no: "1217752501201407033233368018", out_refund_no: "R1abcd", amount: { refund: 1, total: 100 } })).toMatchObject({ ok: false, kind: "api_error", error: { code: "SYSTEM_ERROR", retryable: true } });
  });

  it("transport failures: timeout, network error, oversized reply", async () => {
    const slow = await clientWith(() => new Promise<Response>(() => {}), { timeoutMs: 30 });
    expect(await slow.client.closeOrder("1217752501201407033233368018")).toEqual({ ok: false, kind: "transport", message: "timeout" });
    const down = await clientWith(() => { throw new TypeError("connect refused https://api.mch.weixin.qq.com"); });
    expect(await down.client.closeOrder("1217752501201407033233368018")).toEqual({ ok: false, kind: "transport", message: "network error: TypeError" });
    const huge = await clientWith(() => new Response("x".repeat(300 * 1024)));
    expect(await huge.client.queryRefund("R1abcd")).toEqual({ ok: false, kind: "transport", message: "reply too large" });
  });
});

const sha1Hex = async (bytes: Uint8Array) => [...new Uint8Array(await crypto.subtle.digest("SHA-1", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
const gzip = async (bytes: Uint8Array) => new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());

describe("trade bill", () => {
  const csv = new TextEncoder().encode(allCsv);
  const DOWNLOAD = "https://api.mch.weixin.qq.com/v3/billdownload/file?token=xxx";

  async function billClient(file: Uint8Array, hash: string, opts: { downloadUrl?: string } = {}) {
    return clientWith(async (req) => {
      if (req.url.includes("/v3/bill/tradebill")) return signedReply(200, JSON.stringify({ hash_type: "SHA1", hash_value: hash, download_url: opts.downloadUrl ?? DOWNLOAD }));
      return new Response(file, { status: 200 }); // the download carries no signature headers
    });
  }

  it("applies, downloads (signed request, unsigned reply), checks the SHA-1 and parses the bill", async () => {
    const { client, seen } = await billClient(csv, (await sha1Hex(csv)).toUpperCase());
    const result = await client.tradeBill({ billDate: "2019-06-11" });
    if (!result.ok) throw new Error(JSON.stringify(result));
    expect(result.data.text).toBe(new TextDecoder().decode(csv));
    expect(result.data.bill.rows.length).toBeGreaterThan(0);
    expect(seen.map((s) => s.url)).toEqual(["https://api.mch.weixin.qq.com/v3/bill/tradebill?bill_date=2019-06-11&bill_type=ALL", DOWNLOAD]);
    expect(seen[1]!.headers.get("authorization")).toBe(vector("billdownload").authorization);
  });

  it("a SHA-1 mismatch is refused", async () => {
    const { client } = await billClient(csv, "0".repeat(40));
    expect(await client.tradeBill({ billDate: "2019-06-11" })).toMatchObject({ ok: false, kind: "malformed", message: "bill SHA-1 differs from hash_value" });
  });

  it("GZIP: decompressed with DecompressionStream, SHA-1 over the uncompressed bytes", async () => {
    const { client, seen } = await billClient(await gzip(csv), await sha1Hex(csv));
    const result = await client.tradeBill({ billDate: "2019-06-11", gzip: true });
    expect(result).toMatchObject({ ok: true });
    expect(seen[0]!.url).toContain("tar_type=GZIP");
  });

  it("a gzip bill whose SHA-1 was taken over the compressed bytes, corrupt gzip, or a bomb over the cap are refused", async () => {
    const packed = await gzip(csv);
    const compressedHash = await clientWith(async (req) => req.url.includes("tradebill") ? signedReply(200, JSON.stringify({ hash_type: "SHA1", hash_value: await sha1Hex(packed), download_url: DOWNLOAD })) : new Response(packed));
    expect(await compressedHash.client.tradeBill({ billDate: "2019-06-11", gzip: true })).toMatchObject({ ok: false, message: "bill SHA-1 differs from hash_value" });
    const corrupt = await billClient(packed.slice(0, 20), await sha1Hex(csv));
    expect(await corrupt.client.tradeBill({ billDate: "2019-06-11", gzip: true })).toMatchObject({ ok: false, kind: "malformed", message: "bill is not valid gzip" });
    const zeros = new Uint8Array(2 * 1024 * 1024);
    const bomb = await clientWith(async (req) => req.url.includes("tradebill") ? signedReply(200, JSON.stringify({ hash_type: "SHA1", hash_value: await sha1Hex(zeros), download_url: DOWNLOAD })) : new Response(await gzip(zeros)), { maxBillBytes: 1024 * 1024 });
    expect(await bomb.client.tradeBill({ billDate: "2019-06-11", gzip: true })).toMatchObject({ ok: false, kind: "malformed", message: "bill larger than 1048576 bytes uncompressed" });
  });

  it("a download URL outside WeChat Pay is never fetched", async () => {
    const { client, seen } = await billClient(csv, await sha1Hex(csv), { downloadUrl: "https://attacker.example/v3/billdownload/file?token=x" });
    expect(await client.tradeBill({ billDate: "2019-06-11" })).toMatchObject({ ok: false, kind: "malformed", message: "download_url points outside WeChat Pay" });
    expect(seen).toHaveLength(1);
  });

  it("NO_STATEMENT_EXIST is an api_error", async () => {
    const { client } = await clientWith(() => new Response('{"code":"NO_STATEMENT_EXIST","message":"账单不存在"}', { status: 400 }));
    expect(await client.tradeBill({ billDate: "2019-06-11" })).toMatchObject({ ok: false, kind: "api_error", error: { code: "NO_STATEMENT_EXIST", retryable: false } });
  });
});

describe("/v3/certificates", () => {
  const SERIAL = "440024045C4A427599D09BB4E3DE0279F2E813FD";
  async function certificatesBody(serial = SERIAL) {
    const nonce = "14b16c03dc1b";
    const ciphertext = await wechatEncrypt(APIV3_KEY, nonce, "certificate", keyFile("keys/java-sdk.wechat_pay_certificate.pem"));
    return JSON.stringify({ data: [{ serial_no: serial, effective_time: "2022-05-10T10:04:30+08:00", expire_time: "2025-05-09T10:04:30+08:00", encrypt_certificate: { algorithm: "AEAD_AES_256_GCM", associated_data: "certificate", nonce, ciphertext } }] });
  }

  it("first download (empty trust store): decrypted, read, and verified with the certificate it contains", async () => {
    const body = await certificatesBody();
    const { client } = await clientWith(() => signedReply(200, body, { serial: SERIAL }), { trust: () => new Map(), publicKeyId: undefined });
    const result = await client.downloadCertificates();
    if (!result.ok) throw new Error(JSON.stringify(result));
    expect(result.data.map((c) => [c.serialNo, c.notAfter.toISOString()])).toEqual([[SERIAL, "2025-05-09T02:04:30.000Z"]]);
    expect(result.data[0]!.pem).toBe(keyFile("keys/java-sdk.wechat_pay_certificate.pem"));
  });

  it("a reply signed by a key that is neither trusted nor in the reply is refused", async () => {
    const body = await certificatesBody();
    const { client } = await clientWith(() => signedReply(200, body, { serial: "D7CE59D1F522D701", key: keyFile("keys/go-sdk-test.private-key.pkcs8.pem") }), { trust: () => new Map() });
    expect(await client.downloadCertificates()).toMatchObject({ ok: false, kind: "unverified", reason: "unknown_serial" });
    const lying = await clientWith(() => signedReply(200, body, { serial: SERIAL, key: keyFile("keys/go-sdk-test.private-key.pkcs8.pem") }), { trust: () => new Map() });
    expect(await lying.client.downloadCertificates()).toMatchObject({ ok: false, kind: "unverified", reason: "bad_signature" });
  });

  it("a serial_no that is not the certificate's is malformed; RESOURCE_NOT_EXISTS (public-key merchants) is an api_error", async () => {
    const body = await certificatesBody("5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC");
    const { client } = await clientWith(() => signedReply(200, body, { serial: SERIAL }), { trust: () => new Map() });
    expect(await client.downloadCertificates()).toMatchObject({ ok: false, kind: "malformed", message: "the certificate's serial differs from serial_no" });
    const none = await clientWith(() => new Response('{"code":"RESOURCE_NOT_EXISTS","message":"无可用的平台证书"}', { status: 404 }));
    expect(await none.client.downloadCertificates()).toMatchObject({ ok: false, kind: "api_error", error: { code: "RESOURCE_NOT_EXISTS", retryable: false } });
  });
});
