/**
 * The Queue consumer: each message is a merchant event id. One delivery attempt per message
 * (deliver.ts); a failed attempt is retried by the Queue itself after the backoff delay, with D1 as
 * the record of what is due (a message that arrives for an event that is not due does nothing).
 */
import { logEvent } from "../log";
import { deliverMerchantEvent, type DeliveryDeps } from "./deliver";

/** When D1 itself fails, try the message again after this. */
const STORAGE_RETRY_SECONDS = 30;

export async function consumeEventBatch(batch: MessageBatch<unknown>, deps: DeliveryDeps): Promise<void> {
  // One after another: a receiver sees an order's events in the order they were created.
  for (const message of batch.messages) {
    if (typeof message.body !== "string") {
      logEvent("merchant_event_bad_message", { queue: batch.queue });
      message.ack();
      continue;
    }
    try {
      const outcome = await deliverMerchantEvent(deps, message.body, "queue");
      if (outcome.result === "retry") message.retry({ delaySeconds: outcome.delaySeconds });
      else message.ack();
    } catch (error) {
      logEvent("merchant_event_delivery_error", { id: message.body, error: error instanceof Error ? error.name : "Error" });
      message.retry({ delaySeconds: STORAGE_RETRY_SECONDS });
    }
  }
}
