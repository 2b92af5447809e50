// Shared test helpers for the WeChat Pay v2 unit tests: the official doc key, a `signWechat` that
// signs like WeChat (the convention of the hostile-input catalogue in test/README.md), and XML builders for hostile inputs.
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

/** Narrows a JSON fixture object to Fields, failing loudly if any value is not a string. */
export function asFields(value: unknown): Fields {
  if (typeof value !== "object" || value === null) throw new TypeError("fixture is not an object");
  const out: Fields = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (typeof v !== "string") throw new TypeError(`fixture field ${k} is not a string`);
    out[k] = v;
  }
  return out;
}

/** One request as seen by a fake WeChat endpoint. */
export interface SeenRequest {
  url: string;
  method: string;
  contentType: string | null;
  body: string;
}

/** A fetch stand-in that records requests and answers with `reply`. */
export function fakeFetch(reply: (req: SeenRequest) => Response | Promise<Response>) {
  const seen: SeenRequest[] = [];
  const fetch = async (req: Request): Promise<Response> => {
    const r: SeenRequest = { url: req.url, method: req.method, contentType: req.headers.get("content-type"), body: await req.text() };
    seen.push(r);
    return reply(r);
  };
  return { fetch, seen };
}

/** An HTTP 200 text/xml response. */
export function xmlResponse(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/xml" } });
}
