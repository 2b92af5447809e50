/**
 * Startup self-test of the signing code on this runtime: the official v2 example (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3)
 * must sign to the documented values with both algorithms. Run once per isolate from GET /health.
 */
import { sign } from "./sign";

const OFFICIAL_EXAMPLE = {
  fields: { appid: "wxd930ea5d5a258f4f", mch_id: "10000100", device_info: "1000", body: "test", nonce_str: "ibuaiVcKdpRxkhJA" },
  key: "192006250b4c09247ec02edce69f6a2d",
  md5: "9A0A8659F005D6984697E2CA0A9CF3B7",
  hmac: "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6",
};

/** The names of the algorithms that failed the self-test (empty when all is well). */
export async function signingSelfTest(): Promise<string[]> {
  const { fields, key } = OFFICIAL_EXAMPLE;
  const failures: string[] = [];
  if ((await sign(fields, key, "MD5")) !== OFFICIAL_EXAMPLE.md5) failures.push("MD5");
  if ((await sign(fields, key, "HMAC-SHA256")) !== OFFICIAL_EXAMPLE.hmac) failures.push("HMAC-SHA256");
  return failures;
}
