// Protocol hot paths, measured in Node's V8 (the engine workerd uses) on the bundled src/ code.
// Printed numbers, never asserted: see scripts/bench.mjs.
import { sign, verifySign, type Fields, type SignType } from "../src/wechatpay/sign";
import { ACK_XML, readXml, writeXml } from "../src/wechatpay/xml";
import { nonceStr } from "../src/wechatpay/ids";
import { callbackAck, openCallback } from "../src/wechatpay/v3/callback";
import { signMessage, signRequest } from "../src/wechatpay/v3/sign";
import callbacks from "../test/fixtures/wechatpay-v3/callbacks.computed.json";
import requestSigning from "../test/fixtures/wechatpay-v3/request-signing.computed.json";

const KEY = "192006250b4c09247ec02edce69f6a2d";

/** A realistic 20-field payment notification (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7), signed with `type`. */
async function notification(type: SignType): Promise<string> {
  const fields: Fields = {
    appid: "wxd930ea5d5a258f4f", attach: "table 7", bank_type: "CMC", cash_fee: "1990", coupon_count: "0",
    device_info: "WEB", fee_type: "CNY", is_subscribe: "N", mch_id: "10000100", nonce_str: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", out_trade_no: "20261127131500abcdefghijkl", result_code: "SUCCESS",
    return_code: "SUCCESS", return_msg: "OK", time_end: "20261127131500", total_fee: "1990", trade_type: "JSAPI",
    transaction_id: "4200001234202611271234567890",
  };
  fields.sign = await sign(fields, KEY, type);
  return writeXml(fields);
}

async function measure(name: string, iterations: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(1000, iterations); i++) await op(); // warm-up
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await op();
  const seconds = (performance.now() - started) / 1000;
  const opsPerSecond = iterations / seconds;
  console.log(`${name.padEnd(58)} ${Math.round(opsPerSecond).toLocaleString("en-US").padStart(10)} ops/s  (${iterations} runs)`);
  return opsPerSecond;
}

/** One line comparing the two algorithms of a measurement. */
const sideBySide = (what: string, ops: Record<SignType, number>) =>
  console.log(`  ${what}: MD5 ${Math.round(ops.MD5).toLocaleString("en-US")} ops/s | HMAC-SHA256 ${Math.round(ops["HMAC-SHA256"]).toLocaleString("en-US")} ops/s | HMAC/MD5 ${(ops["HMAC-SHA256"] / ops.MD5).toFixed(2)}`);

const encoder = new TextEncoder();
const verifyOps = {} as Record<SignType, number>;
for (const type of ["MD5", "HMAC-SHA256"] as const) {
  const body = encoder.encode(await notification(type));
  verifyOps[type] = await measure(`verify 20-field notify (read XML + verify + ack), ${type}`, 20_000, async () => {
    const fields = readXml(body);
    if (!(await verifySign(fields, [KEY], type))) throw new Error("bench notify did not verify");
    return ACK_XML;
  });
}

sideBySide("notify verify", verifyOps);

const unifiedOrder: Fields = {
  appid: "wxd930ea5d5a258f4f", mch_id: "10000100", nonce_str: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", sign_type: "MD5",
  body: "Oolong tea 250g 等3件商品", out_trade_no: "20261127131500abcdefghijkl", total_fee: "3987",
  spbill_create_ip: "203.0.113.7", notify_url: "https://shop.example/wechat/pay/notify", trade_type: "JSAPI",
  openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", time_start: "20261127131500", time_expire: "20261127134500", attach: "table 7",
};
const signOps = {} as Record<SignType, number>;
for (const type of ["MD5", "HMAC-SHA256"] as const) {
  const fields = { ...unifiedOrder, sign_type: type };
  signOps[type] = await measure(`sign + serialise unifiedorder request, ${type}`, 20_000, async () => writeXml({ ...fields, sign: await sign(fields, KEY, type) }));
}
sideBySide("unifiedorder sign", signOps);

// WeChat Pay API v3: RSA-2048 replaces the shared-key hash, so expect far fewer operations per second.
// The callback is the vendored TRANSACTION.SUCCESS vector (test/fixtures/wechatpay-v3), re-signed with a
// key pair generated here (the vector's PEM files would need a file loader in this bundle); the work per
// call is exactly a real callback's: RSA-2048 verify, AES-256-GCM decrypt, field checks.
const rsa = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
const wechatPair = (await crypto.subtle.generateKey(rsa, false, ["sign", "verify"])) as CryptoKeyPair;
const merchantPair = (await crypto.subtle.generateKey(rsa, false, ["sign", "verify"])) as CryptoKeyPair;
const v3Callback = callbacks.accept.transaction_success_public_key_mode;
const v3Serial = v3Callback.headers["Wechatpay-Serial"];
const v3Trust = new Map([[v3Serial, wechatPair.publicKey]]);
const v3Signature = await signMessage(wechatPair.privateKey, `${callbacks.now}\n${v3Callback.headers["Wechatpay-Nonce"]}\n${v3Callback.body}\n`);
const v3Headers = new Headers({ ...v3Callback.headers, "Wechatpay-Signature": v3Signature });
const v3Now = new Date(callbacks.now * 1000);
const v3Verify = await measure("v3 callback verify + decrypt (RSA-2048 + AES-256-GCM + fields)", 5_000, async () => {
  const result = await openCallback({ headers: v3Headers, body: v3Callback.body, trust: v3Trust, apiV3Key: callbacks.apiv3_key, now: v3Now });
  if (!result.ok) throw new Error(`bench callback refused: ${result.message}`);
  return callbackAck();
});

const v3Signer = { mchid: requestSigning.mchid, serialNo: requestSigning.serial_no, privateKey: merchantPair.privateKey };
const v3Prepay = JSON.parse(requestSigning.vectors[0]!.body) as unknown;
const v3Url = new URL("https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi");
const v3Sign = await measure("v3 sign + serialise JSAPI prepay request (RSA-2048)", 2_000, async () =>
  signRequest(v3Signer, { method: "POST", url: v3Url, body: JSON.stringify(v3Prepay), timestamp: String(Math.floor(Date.now() / 1000)), nonce: nonceStr(32) }));
console.log(`  v3 beside v2: callback verify ${Math.round(v3Verify).toLocaleString("en-US")} ops/s (v2 HMAC ${Math.round(verifyOps["HMAC-SHA256"]).toLocaleString("en-US")}) | request signing ${Math.round(v3Sign).toLocaleString("en-US")} ops/s (v2 HMAC ${Math.round(signOps["HMAC-SHA256"]).toLocaleString("en-US")})`);
