// The local WeChat simulator: api.weixin.qq.com (jscode2session, stable_token, the shipping-information
// service) + api.mch.weixin.qq.com (Pay API v2, and API v3 in sim/v3/),
// and a control API under /__sim/ that plays the user (pays, completes refunds) and lets tests inspect
// and perturb it. One core, used by `npm run sim` / `npm start` (sim/server.ts, delivery "http"), by
// vitest (miniflare outboundService + SIM service binding, delivery "outbox") and by the e2e test.
//
// It is a TEST PEER: nothing here is imported from src/. This file routes a request to the file that
// answers it (sim/README.md lists them); the state they share is a SimState (sim/state.ts).
import { createControl } from "./control.ts";
import { downloadBill } from "./downloadbill.ts";
import { checkEnvelope, readEnvelope } from "./envelope.ts";
import { corrupt, hang, immediateFault, takeFault } from "./faults.ts";
import { login } from "./login.ts";
import { LOGIN_PATH, TOKEN_PATH, isApiPath, isShippingPath } from "./paths.ts";
import type { ApiPath } from "./paths.ts";
import { refund, refundQuery } from "./refunds.ts";
import { bizFail, ctxFor, envelopeFail } from "./replies.ts";
import { SHIPPING_HANDLERS } from "./shipping.ts";
import type { Ctx } from "./replies.ts";
import { SimState } from "./state.ts";
import type { SimulatorOptions } from "./state.ts";
import { stableToken } from "./tokens.ts";
import { closeOrder, orderQuery, unifiedOrder } from "./trades.ts";
import { v3Api } from "./v3/api.ts";
import { callWxApi } from "./wxapi.ts";
import { parseFlatXml } from "./xml.ts";

export type { SimulatorOptions, TradeState, RefundStatus } from "./state.ts";
export { FAULTS } from "./faults.ts";
export type { FaultKind } from "./faults.ts";
export { refundNotifyPlaintext } from "./refunds.ts";

export interface Simulator {
  fetch(request: Request): Promise<Response>;
  /** clear timers, abort in-flight deliveries, release hanging "timeout" faults */
  close(): void;
  /** resolves when no HTTP notification send is in flight (tests) */
  idle(): Promise<void>;
  /** the simulator's current time (epoch ms, offset included) */
  now(): number;
  /** the openid this simulator issues for a user (the part of a js_code before its first "-") */
  openidFor(user: string, appId?: string): string;
}

const HANDLERS: Record<ApiPath, (s: SimState, ctx: Ctx) => Response> = {
  "/pay/unifiedorder": unifiedOrder,
  "/pay/orderquery": orderQuery,
  "/pay/closeorder": closeOrder,
  "/secapi/pay/refund": refund,
  "/pay/refundquery": refundQuery,
  "/pay/downloadbill": downloadBill,
};

/** One line for the log: the outcome of a Pay API reply, never a key or a sign. */
async function summarize(res: Response): Promise<string> {
  const ct = res.headers.get("Content-Type") ?? "";
  if (!ct.includes("xml")) return `${res.status} ${ct.split(";")[0]}`;
  const text = await res.clone().text();
  try {
    const f = parseFlatXml(text);
    if (f.return_code !== "SUCCESS") return `return_code=FAIL ${f.return_msg ?? ""}`;
    if (f.result_code !== "SUCCESS") return `result_code=FAIL ${f.err_code ?? ""}`;
    return `SUCCESS${f.trade_state ? " " + f.trade_state : ""}${f.prepay_id ? " " + f.prepay_id : ""}`;
  } catch {
    return `${res.status}`;
  }
}

/** A Pay API call: read and record it, apply a queued fault, check the envelope, run the API. */
async function payApi(s: SimState, request: Request, url: URL, path: ApiPath): Promise<Response> {
  const { raw, fields, error } = await readEnvelope(request, path);
  s.record({ method: request.method, path, query: Object.fromEntries(url.searchParams), fields, raw, at: s.now() });
  const signal = request.signal ?? null;
  const fault = takeFault(s, path);
  const label = fields?.out_trade_no ?? fields?.out_refund_no ?? fields?.bill_date ?? "";
  if (fault) {
    s.log(`${request.method} ${path} ${label} → fault ${fault.fault}`);
    if (fault.fault === "timeout") return hang(s, signal);
    const immediate = immediateFault(s, fault, path, fields);
    if (immediate) return immediate;
  }
  let res: Response;
  if (error) res = envelopeFail(error);
  else {
    const checked = checkEnvelope(s, path, fields as Record<string, string>);
    res = checked instanceof Response ? checked : HANDLERS[path](s, checked);
  }
  if (!fault) {
    s.log(`${request.method} ${path} ${label} → ${await summarize(res)}`);
    return res;
  }
  if (fault.fault === "systemerror_after") {
    await res.arrayBuffer(); // processed, but the answer is a SYSTEMERROR
    return bizFail(s, ctxFor(path, fields), "SYSTEMERROR", "系统超时");
  }
  return corrupt(s, res, fault, signal);
}

/** Creates a simulator (see SimulatorOptions in sim/state.ts and sim/README.md). */
export function createSimulator(options: SimulatorOptions): Simulator {
  const s = new SimState(options);
  const control = createControl(s);

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path.startsWith("/__sim/")) return control(request);
    if (path === LOGIN_PATH) return login(s, request, url);
    if (path === TOKEN_PATH) return callWxApi(s, request, url, stableToken, false);
    if (isShippingPath(path)) return callWxApi(s, request, url, SHIPPING_HANDLERS[path], true);
    if (isApiPath(path)) return payApi(s, request, url, path);
    if (path.startsWith("/v3/")) {
      const answered = await v3Api(s, request, url);
      if (answered) return answered;
    }
    s.log(`${request.method} ${path} → 404 (not simulated)`);
    return new Response("404 Not Found (WeChat simulator: this path is not simulated)", { status: 404, headers: { "Content-Type": "text/plain" } });
  }

  return {
    async fetch(request: Request): Promise<Response> {
      try {
        return await handle(request);
      } catch (e) {
        s.log(`${request.method} ${new URL(request.url).pathname} → 500 simulator error: ${(e as Error).message}`);
        return new Response(`simulator error: ${(e as Error).message}`, { status: 500, headers: { "Content-Type": "text/plain" } });
      }
    },
    close: () => s.close(),
    idle: () => s.notifier.idle(),
    now: () => s.now(),
    openidFor: (user: string, appId?: string) => s.openidFor(user, appId ?? s.options.appId),
  };
}
