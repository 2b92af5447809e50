/**
 * Admin shipping routes (mounted under /admin, same bearer token): upload a shipment for a paid order,
 * and WeChat's view of the account (is the shipping-information service managing its trades).
 */
import { Hono } from "hono/tiny";
import { ApiError, badRequest } from "../errors";
import { callWithToken } from "../miniprogram/openapi";
import { LOGISTICS_TYPES, type LogisticsType, type ShipmentInput, type ShipmentItem } from "../miniprogram/shipping";
import { createShipment, openApi, shipmentReplyStatus } from "../orders/shipments";
import { shipmentJson } from "../orders/view";
import { idempotencyKeyHeader, outTradeNoParam, readJsonObject } from "./json";
import type { AppEnv } from "./types";

export const shippingAdminRoutes = new Hono<AppEnv>();

shippingAdminRoutes.post("/orders/:outTradeNo/shipments", async (c) => {
  const outTradeNo = outTradeNoParam(c.req.param("outTradeNo"));
  const input = parseShipment(await readJsonObject(c));
  const shipment = await createShipment(c.var.deps, outTradeNo, input, idempotencyKeyHeader(c.req.header("idempotency-key")), c.var.actor);
  return c.json({ shipment: shipmentJson(shipment) }, shipmentReplyStatus(shipment));
});

shippingAdminRoutes.get("/shipping/status", async (c) => {
  const api = openApi(c.var.deps);
  const body = { appid: c.var.config.appId };
  const [managed, confirmation] = await Promise.all([
    callWithToken(api, "/wxa/sec/order/is_trade_managed", body),
    callWithToken(api, "/wxa/sec/order/is_trade_management_confirmation_completed", body),
  ]);
  for (const result of [managed, confirmation]) {
    if (!result.ok) {
      const extra: Record<string, string> = result.kind === "wechat" ? { errCode: String(result.errcode) } : {};
      throw new ApiError(502, "UPSTREAM_ERROR", "WeChat did not say whether the shipping-information service manages this mini program", {}, extra);
    }
  }
  const status = {
    tradeManaged: managed.ok ? managed.body.is_trade_managed === true : false,
    confirmationCompleted: confirmation.ok ? confirmation.body.completed === true : false,
  };
  // /health shows the last answer as information.
  await c.var.deps.kv.put(SHIPPING_STATUS_KEY, JSON.stringify({ ...status, checkedAt: c.var.deps.now().toISOString() }), { expirationTtl: 86_400 }).catch(() => undefined);
  return c.json(status);
});

/** Where the last answer of GET /admin/shipping/status is kept for /health. */
export const SHIPPING_STATUS_KEY = "wx:shipping_status";

const string = (value: unknown, field: string): string | undefined => {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw badRequest(`${field} must be a string`);
  return value;
};

/** The request body as a ShipmentInput, with 400s naming the field (WeChat's rules: shipmentProblem). */
function parseShipment(body: Record<string, unknown>): ShipmentInput {
  const logisticsType = body.logisticsType;
  if (typeof logisticsType !== "string" || !LOGISTICS_TYPES.includes(logisticsType as LogisticsType)) {
    throw badRequest(`logisticsType must be one of ${LOGISTICS_TYPES.join(", ")}`);
  }
  if (!Array.isArray(body.items)) throw badRequest("items must be an array");
  const items = body.items.map((raw: unknown, i): ShipmentItem => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw badRequest(`items[${i}] must be an object`);
    const item = raw as Record<string, unknown>;
    const itemDesc = string(item.itemDesc, `items[${i}].itemDesc`);
    if (!itemDesc) throw badRequest(`items[${i}].itemDesc is required`);
    const contactRaw = item.contact;
    let contact: ShipmentItem["contact"];
    if (contactRaw !== undefined && contactRaw !== null) {
      if (typeof contactRaw !== "object" || Array.isArray(contactRaw)) throw badRequest(`items[${i}].contact must be an object`);
      const c = contactRaw as Record<string, unknown>;
      const consignorContact = string(c.consignorContact, `items[${i}].contact.consignorContact`);
      const receiverContact = string(c.receiverContact, `items[${i}].contact.receiverContact`);
      contact = { ...(consignorContact ? { consignorContact } : {}), ...(receiverContact ? { receiverContact } : {}) };
    }
    const trackingNo = string(item.trackingNo, `items[${i}].trackingNo`);
    const expressCompany = string(item.expressCompany, `items[${i}].expressCompany`);
    return { itemDesc, ...(trackingNo ? { trackingNo } : {}), ...(expressCompany ? { expressCompany } : {}), ...(contact ? { contact } : {}) };
  });
  const allDelivered = body.allDelivered;
  if (allDelivered !== undefined && allDelivered !== null && typeof allDelivered !== "boolean") throw badRequest("allDelivered must be a boolean");
  return { logisticsType: logisticsType as LogisticsType, items, allDelivered: typeof allDelivered === "boolean" ? allDelivered : null };
}
