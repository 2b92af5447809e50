// The API v3 control routes under /__sim/v3: the keys and trust mode in force (and switching them), and
// sending callbacks a merchant must refuse — signature probes, unknown serials, stale timestamps, edited
// bodies, broken resources — or accept (a genuine re-send, an indented body). Listed by GET /__sim/.
import { randomDigits } from "../crypto.ts";
import { badRequest, readJson } from "../control-kit.ts";
import type { ControlRoute } from "../control-kit.ts";
import { readNotifyMode } from "../payment.ts";
import { ControlError, jsonResponse } from "../replies.ts";
import type { Order, Refund, SimState } from "../state.ts";
import { beijingDate, beijingRfc3339 } from "../time.ts";
import { newOrder } from "../trades.ts";
import { CALLBACK_SPOILS, enqueueRefundCallback, enqueueTransactionCallback } from "./callbacks.ts";
import type { CallbackOptions, CallbackSpoil } from "./callbacks.ts";
import { paidTransactionJson } from "./resources.ts";
import { CALLBACK_SIGNERS, V3_MODES } from "./trust.ts";
import type { CallbackSigner, V3Mode } from "./trust.ts";

/** The v3 setup a merchant would configure from (public parts only: never a private key or the APIv3 key). */
function setupView(s: SimState) {
  const v3 = s.v3;
  return {
    mode: v3.mode,
    callbackSigner: v3.callbackSigner,
    mchId: s.options.mchId,
    merchantSerialNo: v3.merchantSerial,
    publicKey: v3.publicKey ? { id: v3.publicKey.serial, pem: v3.publicKeyPem() } : null,
    certificates: v3.certificates.map((c) => ({
      serialNo: c.serial,
      pem: c.certificate!.pem,
      effectiveTime: beijingRfc3339(c.certificate!.notBefore),
      expireTime: beijingRfc3339(c.certificate!.notAfter),
    })),
  };
}

async function setModeRoute(s: SimState, body: Record<string, unknown>): Promise<Response> {
  const mode = body.mode ?? s.v3.mode;
  const signer = body.callbackSigner ?? s.v3.callbackSigner;
  if (!(V3_MODES as readonly unknown[]).includes(mode)) throw badRequest(`mode must be one of ${V3_MODES.join(", ")}`);
  if (!(CALLBACK_SIGNERS as readonly unknown[]).includes(signer)) throw badRequest(`callbackSigner must be one of ${CALLBACK_SIGNERS.join(", ")}`);
  const refusal = s.v3.refusal(mode as V3Mode);
  if (refusal) throw new ControlError(409, "MODE_UNAVAILABLE", refusal);
  s.v3.mode = mode as V3Mode;
  s.v3.callbackSigner = signer as CallbackSigner;
  s.log(`v3 mode ${s.v3.mode}, callbacks signed by ${s.v3.callbackSigner}`);
  return jsonResponse(setupView(s));
}

/** The spoil options of a notify body (spoil, then, ageSeconds, pretty). */
function readSpoil(body: Record<string, unknown>): Omit<CallbackOptions, "mode" | "copies"> {
  const o: Omit<CallbackOptions, "mode" | "copies"> = {};
  if (body.spoil !== undefined) {
    if (!(CALLBACK_SPOILS as readonly unknown[]).includes(body.spoil)) throw badRequest(`spoil must be one of ${CALLBACK_SPOILS.join(", ")}`);
    o.spoil = body.spoil as CallbackSpoil;
  }
  if (body.then !== undefined) {
    if (body.then !== "stop" && body.then !== "genuine") throw badRequest('then must be "stop" (one send) or "genuine" (retried, signed correctly)');
    o.then = body.then;
  }
  if (body.ageSeconds !== undefined) {
    if (typeof body.ageSeconds !== "number" || !Number.isInteger(body.ageSeconds) || body.ageSeconds < 0) throw badRequest("ageSeconds must be a non-negative integer");
    o.ageSeconds = body.ageSeconds;
  }
  if (body.pretty !== undefined) {
    if (typeof body.pretty !== "boolean") throw badRequest("pretty must be a boolean");
    o.pretty = body.pretty;
  }
  return o;
}

/** A stand-in order for a callback sent to a bare URL (a probe with no order behind it); not stored. */
function strayOrder(s: SimState, url: string): Order {
  return newOrder(
    {
      api: "v3", appId: s.options.appId, mchId: s.options.mchId, outTradeNo: "SIMPROBE" + randomDigits(12), paramsKey: "", signType: "RSA", totalFee: 1, body: "probe",
      attach: "", deviceInfo: "", openid: s.openidFor("probe"), tradeType: "JSAPI", notifyUrl: url, timeStart: "", timeExpire: "", timeExpireMs: null,
    },
    s.now(),
  );
}

const notV3 = (what: string) => new ControlError(409, "NOT_V3", `${what} went through API v2: its notifications are v2 XML`);

const forgedTransactionId = (s: SimState) => "42000" + randomDigits(5) + beijingDate(s.now()) + randomDigits(10);

/**
 * POST /__sim/v3/notify: a payment callback (outTradeNo), a refund callback (outRefundNo) or a callback to
 * a bare `url`. Genuine ones need a paid order / finished refund; a spoiled one may claim what is not
 * so (a forged success), and changes nothing in the simulator.
 */
async function notifyRoute(s: SimState, body: Record<string, unknown>): Promise<Response> {
  const spoil = readSpoil(body);
  const { notify, copies } = readNotifyMode(body);
  if (notify === "none") throw badRequest("notify must be normal, duplicate or concurrent");
  const url = body.url;
  if (url !== undefined && (typeof url !== "string" || !/^https?:\/\//.test(url))) throw badRequest("url must be an absolute http(s) URL");
  const forging = spoil.spoil !== undefined;
  if (typeof body.outRefundNo === "string") {
    const r = s.refundsByNo.get(body.outRefundNo);
    if (!r) throw new ControlError(404, "UNKNOWN_REFUND", `unknown outRefundNo ${JSON.stringify(body.outRefundNo)}`);
    if (r.api !== "v3") throw notV3(`refund ${r.outRefundNo}`);
    if (r.status === "PROCESSING" && !forging) throw new ControlError(409, "REFUND_PROCESSING", `refund ${r.outRefundNo} is still PROCESSING: complete it first (POST /__sim/refunds/complete)`);
    const target: Refund = { ...r, notifyUrl: (url as string | undefined) ?? r.notifyUrl, ...(r.status === "PROCESSING" ? { status: "SUCCESS" as const, successAt: s.now() } : {}) };
    if (!target.notifyUrl) throw new ControlError(409, "NO_NOTIFY_URL", `refund ${r.outRefundNo} has no notify_url: give "url"`);
    const deliveryIds = enqueueRefundCallback(s, target, notify, copies, spoil);
    return jsonResponse({ deliveryIds, url: target.notifyUrl, outRefundNo: r.outRefundNo });
  }
  let order: Order;
  if (typeof body.outTradeNo === "string") {
    const found = s.orders.get(body.outTradeNo);
    if (!found) throw new ControlError(404, "UNKNOWN_ORDER", `unknown outTradeNo ${JSON.stringify(body.outTradeNo)}`);
    if (found.api !== "v3") throw notV3(`order ${found.outTradeNo}`);
    order = { ...found, notifyUrl: (url as string | undefined) ?? found.notifyUrl };
  } else if (typeof url === "string") order = strayOrder(s, url);
  else throw badRequest("give outTradeNo, outRefundNo or url");
  const paid = order.state === "SUCCESS" || order.state === "REFUND";
  if (!paid && !forging) throw new ControlError(409, "NOT_PAID", `order ${order.outTradeNo} is ${order.state}: pay it first (POST /__sim/pay), or send a spoiled callback`);
  const resource = paid ? undefined : paidTransactionJson(s, order, forgedTransactionId(s), s.now());
  const deliveryIds = enqueueTransactionCallback(s, order, { mode: notify, copies, ...spoil }, resource);
  return jsonResponse({ deliveryIds, url: order.notifyUrl, outTradeNo: order.outTradeNo });
}

/** The API v3 control routes (GET /__sim/ lists them with the others). */
export const V3_CONTROL_ROUTES: ControlRoute[] = [
  { method: "GET", path: "/__sim/v3", description: "API v3: the trust mode, callback signer, merchant serial, WeChat Pay public key id + PEM and platform certificates", handle: (s) => jsonResponse(setupView(s)) },
  {
    method: "POST",
    path: "/__sim/v3/mode",
    description: "API v3: switch the trust mode (publicKey | certificate | migrating) and, while migrating, the callback signer (alternate | publicKey | certificate)",
    handle: async (s, c) => setModeRoute(s, await readJson(c)),
  },
  {
    method: "POST",
    path: "/__sim/v3/notify",
    description: "API v3: send a payment or refund callback again, or a spoiled one (probe, unknown_serial, bad_sign, unsigned, stale_timestamp, tampered_body, reserialized_body, gcm_tag, wrong_aad)",
    handle: async (s, c) => notifyRoute(s, await readJson(c)),
  },
];
