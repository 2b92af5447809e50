-- Work goes onto the Queue once: a request that created merchant events (or the automatic shipment of
-- a virtual order) marks what it sends, so concurrent requests never send the same ids again. The cron
-- still re-sends anything that stays undelivered (merchant_events.next_attempt_at, shipments' retries).
ALTER TABLE merchant_events ADD COLUMN enqueued_at INTEGER;
ALTER TABLE shipments ADD COLUMN enqueued_at INTEGER;

-- An admin's redelivery starts a fresh retry window and a fresh backoff: attempts made before it.
ALTER TABLE merchant_events ADD COLUMN attempts_before_window INTEGER NOT NULL DEFAULT 0;
