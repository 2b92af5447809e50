/**
 * Shipping information for paid orders: the merchant's shipment (POST /admin/orders/:outTradeNo/
 * shipments, or the automatic one the payment's transaction writes for an order of only virtual
 * products) is committed PENDING first, then uploaded to WeChat. WeChat's answer decides: 0 →
 * UPLOADED; a definitive errcode → FAILED with it (shipment.failed reaches the merchant); busy, rate
 * limited or unreachable → still PENDING, tried again by the Queue consumer or the cron with backoff.
 * Every status change is one batch with its event (store/shipments.ts), so it is applied once.
 */
import { ApiError, badRequest, notFound } from "../errors";
import { logEvent } from "../log";
import { callWithToken, type OpenApiDeps } from "../miniprogram/openapi";
import { ALREADY_UPLOADED_ERRCODE, isRetryableErrcode, shipmentProblem, uploadShippingBody, type ShipmentInput } from "../miniprogram/shipping";
import { getOrder } from "../store/orders";
import {
  claimShipment, deferShipment, findShipmentByIdempotencyKey, finishShipment, getShipment, insertShipment, listDueShipmentIds,
  type ShipmentRow,
} from "../store/shipments";
import type { Deps } from "./deps";

/** How long an upload attempt holds its claim: longer than token fetch + upload + refresh + upload (10 s each). */
const CLAIM_LEASE_MS = 60_000;
/** Retries of a transient failure: 30 s doubling, at most an hour apart. */
const RETRY_BASE_MS = 30_000;
const RETRY_MAX_MS = 3600_000;

/** The mini-program API as the order services reach it. */
export const openApi = (deps: Deps): OpenApiDeps => ({
  apiBase: deps.config.apiBase,
  appId: deps.config.appId,
  appSecret: deps.config.appSecret,
  kv: deps.kv,
  now: deps.now,
  fetch: (req) => fetch(req),
});

/** The idempotency key the payment's transaction gives the automatic shipment of an all-virtual order. */
const AUTO_KEY = "auto";

const newShipmentId = () => `shp_${[...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;

/**
 * Commits and uploads a shipment for a PAID order, recording `actor` (routes/admin-auth.ts) on its
 * admin_shipment event; an Idempotency-Key replay returns the first one and records nothing.
 */
export async function createShipment(deps: Deps, outTradeNo: string, input: ShipmentInput, idempotencyKey: string | null, actor: string): Promise<ShipmentRow> {
  if (idempotencyKey === AUTO_KEY) throw badRequest(`Idempotency-Key "${AUTO_KEY}" is reserved for the automatic shipment of virtual orders`);
  const order = await getOrder(deps.db, outTradeNo);
  if (!order) throw notFound("order not found");
  if (idempotencyKey) {
    const existing = await findShipmentByIdempotencyKey(deps.db, outTradeNo, idempotencyKey);
    if (existing) return existing;
  }
  if (order.status !== "PAID") throw new ApiError(409, "NOT_SHIPPABLE", `only a PAID order can be shipped (this one is ${order.status})`);
  const problem = shipmentProblem(input);
  if (problem) throw badRequest(problem);

  const id = newShipmentId();
  const now = deps.now().getTime();
  const inserted = await insertShipment(deps.db, { id, outTradeNo, ...input, idempotencyKey, now }, { actor, transactionId: order.transaction_id });
  if (!inserted && idempotencyKey) {
    // A concurrent request with the same key won: answer with its shipment.
    const winner = await findShipmentByIdempotencyKey(deps.db, outTradeNo, idempotencyKey);
    if (winner) return winner;
  }
  return (await uploadShipment(deps, id)) ?? (await mustGet(deps, id));
}

/**
 * One upload attempt of a PENDING shipment that is due (the claim makes concurrent attempts a no-op).
 * Returns the shipment as it is afterwards, or null when it was not PENDING and due.
 */
export async function uploadShipment(deps: Deps, id: string): Promise<ShipmentRow | null> {
  const now = deps.now().getTime();
  const shipment = await claimShipment(deps.db, id, now, CLAIM_LEASE_MS);
  if (!shipment) return null;
  const order = await getOrder(deps.db, shipment.out_trade_no);
  if (!order?.transaction_id) throw new Error("a shipment's order has no payment");
  const input: ShipmentInput = {
    logisticsType: shipment.logistics_type,
    items: JSON.parse(shipment.items),
    allDelivered: shipment.all_delivered === null ? null : shipment.all_delivered === 1,
  };
  const body = uploadShippingBody(input, { transactionId: order.transaction_id, openid: order.openid }, deps.now());
  const result = await callWithToken(openApi(deps), "/wxa/sec/order/upload_shipping_info", body);
  const detail = { logistics_type: shipment.logistics_type, items: input.items.length };
  if (result.ok || (result.kind === "wechat" && result.errcode === ALREADY_UPLOADED_ERRCODE)) {
    return finishShipment(deps.db, { id, status: "UPLOADED", errCode: null, transactionId: order.transaction_id, now, detail });
  }
  if (result.kind === "wechat" && !isRetryableErrcode(result.errcode)) {
    logEvent("shipment_refused", { id, outTradeNo: order.out_trade_no, errcode: result.errcode });
    return finishShipment(deps.db, { id, status: "FAILED", errCode: result.errcode, transactionId: order.transaction_id, now, detail: { ...detail, errcode: result.errcode, errmsg: result.errmsg } });
  }
  const delay = Math.min(RETRY_BASE_MS * 2 ** Math.min(shipment.attempts, 20), RETRY_MAX_MS);
  logEvent("shipment_deferred", { id, outTradeNo: order.out_trade_no, reason: result.kind === "wechat" ? `errcode ${result.errcode}` : result.message, retryInMs: delay });
  await deferShipment(deps.db, id, now, now + delay);
  return mustGet(deps, id);
}

/** At most this many shipment uploads are retried per cron run. */
const SHIPMENT_RETRIES_PER_RUN = 5;
/**
 * The most one retry can cost: D1 claim, order, finish (one batch), read back, plus its share of the
 * list query; WeChat token fetch, upload, token fetch again, upload.
 */
export const SHIPMENT_RETRY_COST = { d1: 5, wechat: 4 } as const;

/** The cron's share: up to `max` PENDING shipments whose retry is due. */
export async function retryDueShipments(deps: Deps, max = SHIPMENT_RETRIES_PER_RUN): Promise<number> {
  const limit = Math.min(max, SHIPMENT_RETRIES_PER_RUN);
  if (limit <= 0) return 0;
  let tried = 0;
  for (const id of await listDueShipmentIds(deps.db, deps.now().getTime(), limit)) {
    try {
      if (await uploadShipment(deps, id)) tried++;
    } catch (error) {
      logEvent("shipment_retry_failed", { id, error: error instanceof Error ? error.name : "Error" });
    }
  }
  return tried;
}

async function mustGet(deps: Deps, id: string): Promise<ShipmentRow> {
  const row = await getShipment(deps.db, id);
  if (!row) throw new Error("a committed shipment is missing");
  return row;
}

/** What POST /admin/orders/:outTradeNo/shipments answers for a shipment: 201, 202, or 502 naming the errcode. */
export function shipmentReplyStatus(shipment: ShipmentRow): 201 | 202 {
  if (shipment.status === "FAILED") {
    throw new ApiError(502, "UPSTREAM_ERROR", `WeChat refused the shipping information (errcode ${shipment.err_code})`, {}, {
      errCode: String(shipment.err_code),
      shipmentId: shipment.id,
    });
  }
  return shipment.status === "UPLOADED" ? 201 : 202;
}
