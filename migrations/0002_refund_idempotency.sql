-- POST /admin/orders/:outTradeNo/refunds accepts an Idempotency-Key: a retried request (lost
-- response, double click) returns the refund it already created instead of refunding again.
ALTER TABLE refunds ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX refunds_by_idempotency_key ON refunds (out_trade_no, idempotency_key) WHERE idempotency_key IS NOT NULL;
