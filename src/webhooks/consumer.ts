/**
 * The Queue consumer: each message is a merchant event id (`evt_…`: one delivery attempt, deliver.ts;
 * a failed attempt is retried by the Queue itself after the backoff delay) or a shipment id (`shp_…`:
 * one upload attempt; a transient failure is retried by the cron). D1 is the record of what is due: a
 * message that arrives for work that is not due does nothing.
 */
import { logEvent } from "../log";
import type { Deps } from "../orders/deps";
import { uploadShipment } from "../orders/shipments";
import { deliverMerchantEvent } from "./deliver";
import { sendNewQueueWork } from "./outbox";

/** When D1 itself fails, try the message again after this. */
const STORAGE_RETRY_SECONDS = 30;

export async function consumeEventBatch(batch: MessageBatch<unknown>, deps: Deps): Promise<void> {
  const delivery = { db: deps.db, webhook: deps.config.webhook, now: deps.now, fetch: (req: Request) => fetch(req) };
  // One after another: a receiver sees an order's events in the order they were created.
  for (const message of batch.messages) {
    if (typeof message.body !== "string") {
      logEvent("merchant_event_bad_message", { queue: batch.queue });
      message.ack();
      continue;
    }
    try {
      if (message.body.startsWith("shp_")) {
        await uploadShipment(deps, message.body);
        message.ack();
        continue;
      }
      const outcome = await deliverMerchantEvent(delivery, message.body, "queue");
      if (outcome.result === "retry") message.retry({ delaySeconds: outcome.delaySeconds });
      else message.ack();
    } catch (error) {
      logEvent("merchant_event_delivery_error", { id: message.body, error: error instanceof Error ? error.name : "Error" });
      message.retry({ delaySeconds: STORAGE_RETRY_SECONDS });
    }
  }
  // An automatic shipment's upload wrote its shipment.uploaded / shipment.failed: on its way now.
  await sendNewQueueWork(deps.db, deps.queue, deps.outbox, deps.config.webhook.url !== null);
}
