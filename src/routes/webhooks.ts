/**
 * /admin/webhooks: the merchant events (the outbox) and their deliveries, mounted under the admin
 * routes (same bearer token). Listing, one event with every attempt, and redelivery of one event.
 */
import { Hono } from "hono/tiny";
import { ApiError, badRequest, notFound } from "../errors";
import { logEvent } from "../log";
import { getMerchantEvent, listAttempts, listMerchantEvents, markForRedelivery, type MerchantEventStatus } from "../store/merchant-events";
import { merchantEventAttemptJson, merchantEventJson, merchantEventSummaryJson } from "../webhooks/view";
import { decodeCursor, encodeCursor, limitParam } from "./json";
import type { AppEnv } from "./types";

export const webhookAdminRoutes = new Hono<AppEnv>();

const STATUSES: readonly MerchantEventStatus[] = ["pending", "delivered", "failed"];
const TYPE = /^[a-z]+\.[a-z_]+$/;
const eventIdParam = (raw: string) => {
  if (!/^evt_[0-9a-f]{24}$/.test(raw)) throw notFound("event not found");
  return raw;
};

webhookAdminRoutes.get("/events", async (c) => {
  const status = c.req.query("status") || null;
  if (status !== null && !STATUSES.includes(status as MerchantEventStatus)) throw badRequest(`status must be one of ${STATUSES.join(", ")}`);
  const type = c.req.query("type") || null;
  if (type !== null && !TYPE.test(type)) throw badRequest("type must be an event type such as order.paid");
  const limit = limitParam(c.req.query("limit"));
  const cursor = decodeCursor(c.req.query("cursor"));
  if (cursor && !Number.isSafeInteger(cursor[0])) throw badRequest("cursor is invalid");
  const rows = await listMerchantEvents(c.env.DB, { status: status as MerchantEventStatus | null, type, beforeSeq: cursor ? (cursor[0] as number) : null, limit });
  const last = rows.at(-1);
  return c.json({ events: rows.map(merchantEventSummaryJson), nextCursor: rows.length === limit && last ? encodeCursor([last.seq]) : null });
});

webhookAdminRoutes.get("/events/:id", async (c) => {
  const event = await getMerchantEvent(c.env.DB, eventIdParam(c.req.param("id")));
  if (!event) throw notFound("event not found");
  const attempts = await listAttempts(c.env.DB, event.id);
  return c.json({ event: merchantEventJson(event), attempts: attempts.map(merchantEventAttemptJson) });
});

webhookAdminRoutes.post("/events/:id/redeliver", async (c) => {
  const id = eventIdParam(c.req.param("id"));
  if (!c.var.config.webhook.url) {
    throw new ApiError(409, "WEBHOOKS_DISABLED", "MERCHANT_WEBHOOK_URL is not set: events are kept, not sent");
  }
  const event = await markForRedelivery(c.env.DB, id, c.var.deps.now().getTime(), c.var.actor);
  if (!event) throw notFound("event not found");
  try {
    await c.env.EVENTS_QUEUE.send(event.id);
  } catch (error) {
    // It is pending and due: the cron sends it within a few minutes.
    logEvent("merchant_event_send_failed", { id: event.id, error: error instanceof Error ? error.name : "Error" });
  }
  return c.json({ event: merchantEventSummaryJson(event) }, 202);
});
