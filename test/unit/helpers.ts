// Shared test helpers for the WeChat Pay v2 unit tests: the official doc key, a `signWechat` that
// signs like WeChat (test-catalogue convention), and XML builders for hostile inputs.
import { sign, type Fields, type SignType } from "../../src/wechatpay/sign";

/** The official-doc API key used by the published vectors (sdk-go, wechatpy, computed_vectors). */
export const DOC_KEY = "192006250b4c09247ec02edce69f6a2d";

/** Returns `fields` plus a `sign` computed with `key`/`type`, as WeChat would send them. */
export async function signWechat(fields: Fields, key = DOC_KEY, type: SignType = "MD5"): Promise<Fields> {
  return { ...fields, sign: await sign(fields, key, type) };
}

/** Plain-text XML (no CDATA), fields in the given order. */
export function plainXml(fields: Fields, root = "xml"): string {
  return `<${root}>${Object.entries(fields).map(([k, v]) => `<${k}>${v}</${k}>`).join("")}</${root}>`;
}
