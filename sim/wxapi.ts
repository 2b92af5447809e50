// The JSON APIs of api.weixin.qq.com (stable_token and the shipping-information calls): one
// wrapper records the call, applies a queued fault, checks the method, the access token and the JSON
// body, runs the handler and spoils its reply when a fault says so. Errors are HTTP 200 with
// `{"errcode", "errmsg": "<message> rid: <request id>"}`, as WeChat answers them.
import { corrupt, hang, immediateFault, takeFault } from "./faults.ts";
import { rid } from "./replies.ts";
import type { SimState } from "./state.ts";

const JSON_HEADERS = { "Content-Type": "application/json; encoding=utf-8" };

/** One accepted call: its JSON object body and its query. */
export interface WxCall {
  body: Record<string, unknown>;
  query: URLSearchParams;
}

/** A successful answer: `{"errcode": 0, "errmsg": "ok", ...fields}` unless the fields say otherwise. */
export function wxReply(fields: Record<string, unknown>): Response {
  return new Response(JSON.stringify(fields), { status: 200, headers: JSON_HEADERS });
}

/** An error answer with WeChat's ` rid: ` suffix. */
export function wxError(errcode: number, errmsg: string): Response {
  return wxReply({ errcode, errmsg: `${errmsg} rid: ${rid()}` });
}

/** Reads the body as a JSON object, or the error answer WeChat gives (44002 empty, 47001 not a JSON object). */
function readBody(raw: string): Record<string, unknown> | Response {
  if (raw.trim() === "") return wxError(44002, "empty post data");
  try {
    const v: unknown = JSON.parse(raw);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  return wxError(47001, "data format error");
}

/** The answer of a fault that replaces processing (null: process the call). */
function faultAnswer(s: SimState, fault: NonNullable<ReturnType<typeof takeFault>>, path: string): Response | null {
  switch (fault.fault) {
    case "systemerror":
      return wxError(-1, "system error");
    case "business": {
      const code = Number(fault.errCode);
      return wxError(Number.isInteger(code) ? code : -1, fault.errCodeDes ?? "system error");
    }
    case "token_expired":
      s.tokens.expireAll(s.now());
      return null;
    default:
      return immediateFault(s, fault, path, null); // http500, html, empty; null for the processed-then-spoiled ones
  }
}

/** A one-line outcome for the log (errcode only: never a token or a secret). */
async function outcome(res: Response): Promise<string> {
  try {
    const v = (await res.clone().json()) as { errcode?: number };
    return `errcode ${v.errcode ?? 0}`;
  } catch {
    return String(res.status);
  }
}

/**
 * Answers one call to a JSON API path: `withToken` checks `?access_token=` (41001/40001/42001) before
 * the body is read. The recorded request keeps the query (the access token is a simulator value) but
 * never the AppSecret.
 */
export async function callWxApi(
  s: SimState,
  request: Request,
  url: URL,
  handler: (s: SimState, call: WxCall) => Response,
  withToken: boolean,
): Promise<Response> {
  const path = url.pathname;
  const raw = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
  const secret = s.options.appSecret;
  s.record({ method: request.method, path, query: Object.fromEntries(url.searchParams), fields: null, raw: secret ? raw.split(secret).join("<redacted>") : raw, at: s.now() });
  const fault = takeFault(s, path);
  const signal = request.signal ?? null;
  if (fault) {
    s.log(`${request.method} ${path} → fault ${fault.fault}`);
    if (fault.fault === "timeout") return hang(s, signal);
    const answer = faultAnswer(s, fault, path);
    if (answer) return answer;
  }
  let res: Response;
  const refused = withToken ? s.tokens.check(url.searchParams.get("access_token"), s.now()) : null;
  if (request.method !== "POST") res = wxError(43002, "require POST method");
  else if (refused) res = wxError(refused.errcode, refused.errmsg);
  else {
    const body = readBody(raw);
    res = body instanceof Response ? body : handler(s, { body, query: url.searchParams });
  }
  s.log(`${request.method} ${path} → ${await outcome(res)}`);
  if (fault?.fault === "systemerror_after") {
    await res.arrayBuffer(); // processed, but the answer is "system busy"
    return wxError(-1, "system error");
  }
  return fault ? corrupt(s, res, fault, signal) : res;
}
