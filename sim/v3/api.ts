// One API v3 call from start to finish: match the route, record the request, apply a queued fault, check
// Accept/User-Agent and the Authorization signature, run the handler, then sign the reply with the key
// the trust mode picks (sim/v3/trust.ts) — or spoil it as a fault says.
import { hang, takeFault } from "../faults.ts";
import type { V3Path } from "../paths.ts";
import type { SimState } from "../state.ts";
import { checkAuthorization } from "./auth.ts";
import { downloadBillFile, tradeBill } from "./bill.ts";
import type { V3Call } from "./call.ts";
import { certificates } from "./certificates.ts";
import { headerSpoilOf, immediateV3Fault } from "./faults.ts";
import { createRefundV3, queryRefundV3 } from "./refunds.ts";
import { V3Refusal, bodyText, responseNonce, signatureHeaders, toResponse, v3Error } from "./reply.ts";
import type { V3Reply } from "./reply.ts";
import { spoilHeaders } from "./spoil.ts";
import type { HeaderSpoil } from "./spoil.ts";
import { closeOrderV3, prepay, queryByOutTradeNo, queryByTransactionId } from "./transactions.ts";

interface Route {
  method: "GET" | "POST";
  path: V3Path;
  handle: (call: V3Call) => V3Reply;
}

const ROUTES: Route[] = [
  { method: "POST", path: "/v3/pay/transactions/jsapi", handle: prepay },
  { method: "GET", path: "/v3/pay/transactions/out-trade-no/{out_trade_no}", handle: queryByOutTradeNo },
  { method: "GET", path: "/v3/pay/transactions/id/{transaction_id}", handle: queryByTransactionId },
  { method: "POST", path: "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", handle: closeOrderV3 },
  { method: "POST", path: "/v3/refund/domestic/refunds", handle: createRefundV3 },
  { method: "GET", path: "/v3/refund/domestic/refunds/{out_refund_no}", handle: queryRefundV3 },
  { method: "GET", path: "/v3/bill/tradebill", handle: tradeBill },
  { method: "GET", path: "/v3/billdownload/file", handle: downloadBillFile },
  { method: "GET", path: "/v3/certificates", handle: certificates },
];

/** A route's template as a RegExp with one capture per {parameter}. */
function compile(template: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const re = template.replace(/\{(\w+)\}|[^{}]+/g, (m, name: string | undefined) => {
    if (name) {
      names.push(name);
      return "([^/]+)";
    }
    return m.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
  });
  return { re: new RegExp(`^${re}$`), names };
}

const COMPILED = ROUTES.map((r) => ({ route: r, ...compile(r.path) }));

/** The route a method and path take, with its percent-decoded path parameters; null when not simulated. */
function matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | null {
  for (const c of COMPILED) {
    if (c.route.method !== method) continue;
    const m = c.re.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    try {
      c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] as string)));
    } catch {
      return null;
    }
    return { route: c.route, params };
  }
  return null;
}

/** The signed (or spoiled) Response of a reply; unsigned replies stay unsigned whatever the spoil. */
function finish(s: SimState, reply: V3Reply, requestSerial: string | null, spoil: HeaderSpoil | null): Response {
  if (!reply.signed) return toResponse(reply, {});
  const timestamp = String(Math.floor(s.wallClock() / 1000));
  const headers = signatureHeaders(s.v3.responseSigner(requestSerial), timestamp, responseNonce(), bodyText(reply));
  return toResponse(reply, spoil ? spoilHeaders(headers, spoil) : headers);
}

/** Runs the handler after the header and Authorization checks; a V3Refusal becomes its reply. */
function process(s: SimState, call: V3Call, route: Route, request: Request, bytes: Uint8Array, text: string | null): V3Reply {
  if (!request.headers.get("Accept") || !request.headers.get("User-Agent")) return v3Error(400, "INVALID_REQUEST", "Http头缺少Accept或User-Agent", undefined, false);
  const canonicalUrl = call.url.pathname + call.url.search;
  const refused = checkAuthorization(s.v3, s.options.mchId, { method: request.method, canonicalUrl, body: bytes, authorization: request.headers.get("Authorization") }, s.wallClock());
  if (refused) return refused;
  if (text === null) return v3Error(400, "PARAM_ERROR", "请求体不是合法的UTF-8", { location: "body", issue: "invalid UTF-8" });
  try {
    return route.handle({ ...call, text });
  } catch (e) {
    if (e instanceof V3Refusal) return e.reply;
    throw e;
  }
}

/** An API v3 call (any host): its Response, or null when the method and path are not a simulated v3 route. */
export async function v3Api(s: SimState, request: Request, url: URL): Promise<Response | null> {
  const matched = matchRoute(request.method, url.pathname);
  if (!matched) return null;
  const { route, params } = matched;
  const bytes = request.method === "GET" ? new Uint8Array() : new Uint8Array(await request.arrayBuffer());
  let text: string | null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  const headers = Object.fromEntries(request.headers);
  s.record({ method: request.method, path: url.pathname, route: route.path, query: Object.fromEntries(url.searchParams), fields: null, raw: text ?? Buffer.from(bytes).toString("latin1"), at: s.now(), headers });
  const label = `${request.method} ${url.pathname}${url.search}`;
  const requestSerial = request.headers.get("Wechatpay-Serial");
  const fault = takeFault(s, route.path);
  if (fault) {
    s.log(`${label} → fault ${fault.fault}`);
    if (fault.fault === "timeout") return hang(s, request.signal ?? null);
    const immediate = immediateV3Fault(fault);
    if (immediate instanceof Response) return immediate;
    if (immediate) return finish(s, immediate, requestSerial, null);
  }
  const call: V3Call = { s, url, params, text: text ?? "" };
  let reply = process(s, call, route, request, bytes, text);
  if (!fault) s.log(`${label} → ${reply.status}${reply.json && typeof reply.json === "object" && "code" in reply.json ? ` ${(reply.json as { code: string }).code}` : ""}`);
  if (fault?.fault === "systemerror_after") reply = v3Error(500, "SYSTEM_ERROR", "系统错误");
  const res = finish(s, reply, requestSerial, headerSpoilOf(fault));
  if (fault?.fault === "timeout_after") return hang(s, request.signal ?? null);
  if (fault?.fault === "truncated") {
    const body = new Uint8Array(await res.arrayBuffer());
    return new Response(body.slice(0, Math.max(1, Math.floor(body.length / 2))), { status: res.status, headers: res.headers });
  }
  return res;
}
