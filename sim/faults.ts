// Scripted faults (POST /__sim/faults): the next `times` calls to a path misbehave. Some answer in
// place of the real handler (transport errors, scripted business errors), some let the request be
// processed and then spoil or lose the reply. See sim/README.md "Faults".
import type { Ctx } from "./replies.ts";
import { bizFail, ctxFor, envelopeFail, jsonResponse, rid, xmlResponse } from "./replies.ts";
import { LOGIN_PATH, TOKEN_PATH, isShippingPath, isV3Path } from "./paths.ts";
import type { SimState } from "./state.ts";
import { HEADER_SPOILS } from "./v3/spoil.ts";

export const FAULTS = [
  "systemerror", "http500", "html", "empty", "truncated", "doctype", "bad_sign", "return_fail", "timeout",
  // additions (see sim/README.md): processed-then-lost replies and scripted business errors
  "timeout_after", "systemerror_after", "notenough", "business", "bill_creating",
  // api.weixin.qq.com (access token, shipping): every access token expires before the call is checked
  "token_expired",
  // API v3 only: the processed reply's signature headers spoiled (sim/v3/spoil.ts)
  "probe", "unknown_serial", "unsigned",
] as const;
export type FaultKind = (typeof FAULTS)[number];

/** The faults that make sense on the JSON APIs of api.weixin.qq.com (stable_token and shipping). */
const JSON_API_FAULTS: readonly FaultKind[] = ["systemerror", "systemerror_after", "http500", "html", "empty", "truncated", "timeout", "timeout_after", "business", "token_expired"];

/** The faults that only an API v3 route takes. */
const V3_ONLY_FAULTS: readonly FaultKind[] = ["probe", "unknown_serial", "unsigned"];

/** The faults an API v3 route takes (v2's XML-only faults and token_expired are refused there). */
export const V3_FAULTS: readonly FaultKind[] = [
  "systemerror", "systemerror_after", "http500", "html", "empty", "truncated", "timeout", "timeout_after", "notenough", "business", "bill_creating",
  ...HEADER_SPOILS,
];

/** Why `fault` cannot be queued for `path` (null when it can). */
export function faultRefusal(path: string, fault: FaultKind): string | null {
  if (isV3Path(path)) return V3_FAULTS.includes(fault) ? null : `${path} takes one of ${V3_FAULTS.join(", ")}`;
  if (V3_ONLY_FAULTS.includes(fault)) return `${fault} applies to the API v3 routes (signed JSON replies)`;
  if (isShippingPath(path)) return JSON_API_FAULTS.includes(fault) ? null : `${path} takes one of ${JSON_API_FAULTS.join(", ")}`;
  if (path === TOKEN_PATH) return JSON_API_FAULTS.includes(fault) && fault !== "token_expired" ? null : `${path} takes one of ${JSON_API_FAULTS.filter((f) => f !== "token_expired").join(", ")}`;
  return fault === "token_expired" ? "token_expired applies to the shipping paths (calls made with an access_token)" : null;
}

/** One queued fault of a path. */
export interface Fault {
  fault: FaultKind;
  remaining: number;
  errCode?: string;
  errCodeDes?: string;
  /** API v3 "business" faults: the HTTP status of the error (default 400) */
  status?: number;
}

/** Queues a fault for `path` (after those already queued); returns the path's queue. */
export function addFault(s: SimState, path: string, fault: Fault): Fault[] {
  const q = s.faults.get(path) ?? [];
  q.push(fault);
  s.faults.set(path, q);
  return q;
}

/** Consumes one use of the path's first queued fault, if any. */
export function takeFault(s: SimState, path: string): Fault | null {
  const q = s.faults.get(path);
  if (!q || q.length === 0) return null;
  const f = q[0] as Fault;
  f.remaining--;
  if (f.remaining <= 0) q.shift();
  return { ...f };
}

/** Never answers, until the caller aborts, faultTimeoutMs passes or the simulator resets/closes: then 504. */
export function hang(s: SimState, signal: AbortSignal | null): Promise<Response> {
  return new Promise<Response>((resolve) => {
    const done = () => {
      s.cancel(t);
      s.hangs.delete(done);
      resolve(new Response("", { status: 504 }));
    };
    const t = s.later(done, s.options.faultTimeoutMs);
    s.hangs.add(done);
    if (signal) {
      if (signal.aborted) done();
      else signal.addEventListener("abort", done, { once: true });
    }
  });
}

/**
 * The transport-level faults every API answers alike: http500 (a plain 500), html (a gateway's 200 HTML
 * page), empty (200 with no body, of the API's content type). Null for any other fault.
 */
export function transportFault(fault: FaultKind, contentType: string): Response | null {
  switch (fault) {
    case "http500":
      return new Response("Internal Server Error", { status: 500, headers: { "Content-Type": "text/plain" } });
    case "html":
      return new Response("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr><center>stgw</center></body></html>", {
        status: 200,
        headers: { "Content-Type": "text/html" },
      });
    case "empty":
      return new Response("", { status: 200, headers: { "Content-Type": contentType } });
    default:
      return null;
  }
}

/** The answer of a fault that replaces processing, or null when the request is processed first. */
export function immediateFault(s: SimState, fault: Fault, path: string, fields: Record<string, string> | null): Response | null {
  const ctx: Ctx = ctxFor(path, fields);
  switch (fault.fault) {
    case "http500":
    case "html":
    case "empty":
      return transportFault(fault.fault, "text/xml");
    case "doctype":
      return xmlResponse(`<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><return_code>&xxe;</return_code></xml>`);
    case "return_fail":
      if (path === LOGIN_PATH) return jsonResponse({ errcode: -1, errmsg: `system error, rid: ${rid()}` });
      return envelopeFail("系统繁忙，请稍后再试");
    case "systemerror":
      if (path === LOGIN_PATH) return jsonResponse({ errcode: -1, errmsg: `system error, rid: ${rid()}` });
      if (path === "/pay/downloadbill") return envelopeFail("SYSTEMERROR");
      return bizFail(s, ctx, "SYSTEMERROR", "系统超时");
    case "notenough":
      return bizFail(s, ctx, "NOTENOUGH", "基本账户余额不足，请充值后重新发起");
    case "business":
      return bizFail(s, ctx, fault.errCode ?? "SYSTEMERROR", fault.errCodeDes ?? "system error");
    case "bill_creating":
      return envelopeFail("Bill Creating");
    default:
      return null; // timeout / processed-then-altered faults are handled by the caller
  }
}

/** Spoils the reply of a processed request: lost (timeout_after), cut in half (truncated) or re-signed wrongly (bad_sign). */
export async function corrupt(s: SimState, res: Response, fault: Fault, signal: AbortSignal | null): Promise<Response> {
  if (fault.fault === "timeout_after") {
    await res.arrayBuffer();
    return hang(s, signal);
  }
  const text = await res.text();
  const headers = { "Content-Type": res.headers.get("Content-Type") ?? "text/xml" };
  if (fault.fault === "truncated") return new Response(text.slice(0, Math.max(1, Math.floor(text.length / 2))), { status: res.status, headers });
  if (fault.fault === "bad_sign") {
    const m = /<sign><!\[CDATA\[([0-9A-F]+)\]\]><\/sign>/.exec(text);
    if (!m) return new Response(text, { status: res.status, headers });
    const sig = m[1] as string;
    const flipped = (sig[0] === "0" ? "1" : "0") + sig.slice(1);
    return new Response(text.replace(m[0], `<sign><![CDATA[${flipped}]]></sign>`), { status: res.status, headers });
  }
  return new Response(text, { status: res.status, headers });
}
