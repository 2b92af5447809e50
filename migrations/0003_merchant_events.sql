-- Merchant events: every applied change (and every anomaly) becomes an event for the merchant's own
-- systems, delivered at least once, signed, to MERCHANT_WEBHOOK_URL.
--
-- A transactional outbox without a second code path: every change already writes its row in `events`
-- in the same D1 batch as the change itself, and the trigger below turns that row into a merchant event
-- inside the same statement. So a merchant event exists if and only if its change committed, whichever
-- code made the change, and the UNIQUE `source` makes each fact one event (one webhook-id) however
-- often it is seen.

CREATE TABLE merchant_events (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order (paging, delivery order)
  id              TEXT NOT NULL UNIQUE,                -- evt_<24 hex>: the webhook-id, stable across retries
  source          TEXT NOT NULL UNIQUE,                -- <type>:<events.identity>: one event per fact
  type            TEXT NOT NULL,
  out_trade_no    TEXT,
  snapshot        TEXT NOT NULL,                       -- JSON of the rows as the change left them
  created_at      INTEGER NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,                    -- when a delivery is next due (also the claim lease)
  retry_from      INTEGER NOT NULL,                    -- start of the 3-day retry window (creation or redelivery)
  last_attempt_at INTEGER,
  last_status     INTEGER,                             -- HTTP status of the last attempt, null without one
  delivered_at    INTEGER
);
CREATE INDEX merchant_events_due ON merchant_events (status, next_attempt_at);
CREATE INDEX merchant_events_by_order ON merchant_events (out_trade_no, seq);
CREATE INDEX merchant_events_by_type ON merchant_events (type, seq);

-- Every delivery attempt, for the admin API. Never the secret, never the body (the event has it).
CREATE TABLE merchant_event_attempts (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id     TEXT NOT NULL REFERENCES merchant_events(id),
  attempted_at INTEGER NOT NULL,
  status_code  INTEGER,            -- null when no HTTP answer came (timeout, network error)
  latency_ms   INTEGER NOT NULL,
  error_class  TEXT,               -- 'timeout' | 'network' | 'http_status' | null when delivered
  via          TEXT NOT NULL       -- 'queue' | 'redeliver'
);
CREATE INDEX merchant_event_attempts_by_event ON merchant_event_attempts (event_id, id);

-- The snapshots, with the column names of the tables (the Worker maps them to the API's JSON shapes).
CREATE VIEW order_snapshots AS
SELECT o.out_trade_no AS out_trade_no, json_object(
  'out_trade_no', o.out_trade_no, 'status', o.status, 'total_fee', o.total_fee, 'description', o.description,
  'attach', o.attach, 'created_at', o.created_at, 'expires_at', o.expires_at, 'paid_at', o.paid_at,
  'transaction_id', o.transaction_id, 'refunded_fee', o.refunded_fee,
  'items', json((SELECT json_group_array(json_object('sku', i.sku, 'name', i.name, 'quantity', i.quantity, 'price_fen', i.price_fen))
                 FROM (SELECT * FROM order_items WHERE out_trade_no = o.out_trade_no ORDER BY line) i))
) AS snapshot
FROM orders o;

CREATE VIEW refund_snapshots AS
SELECT r.out_refund_no AS out_refund_no, json_object(
  'out_refund_no', r.out_refund_no, 'out_trade_no', r.out_trade_no, 'refund_fee', r.refund_fee, 'status', r.status,
  'reason', r.reason, 'created_at', r.created_at, 'succeeded_at', r.succeeded_at
) AS snapshot
FROM refunds r;

CREATE TRIGGER merchant_event_for_each_fact AFTER INSERT ON events
BEGIN
  INSERT OR IGNORE INTO merchant_events (id, source, type, out_trade_no, snapshot, created_at, next_attempt_at, retry_from)
  SELECT 'evt_' || lower(hex(randomblob(12))), m.type || ':' || NEW.identity, m.type, NEW.out_trade_no,
    json_object(
      'order', json((SELECT snapshot FROM order_snapshots WHERE out_trade_no = NEW.out_trade_no)),
      'refund', json((SELECT snapshot FROM refund_snapshots WHERE out_refund_no = NEW.out_refund_no)),
      'anomaly', CASE WHEN NEW.verdict = 'anomaly' THEN json_object(
        'id', NEW.id, 'kind', NEW.kind, 'verdict', NEW.verdict, 'out_trade_no', NEW.out_trade_no,
        'transaction_id', NEW.transaction_id, 'out_refund_no', NEW.out_refund_no, 'detail', NEW.detail,
        'created_at', NEW.created_at) END
    ),
    NEW.created_at, NEW.created_at, NEW.created_at
  FROM (SELECT CASE
          WHEN NEW.verdict = 'anomaly' THEN 'anomaly.recorded'
          WHEN NEW.identity LIKE 'pay:%' THEN 'order.paid'
          WHEN NEW.identity LIKE 'close:%' THEN 'order.closed'
          WHEN NEW.identity LIKE 'refund:%:SUCCESS' THEN 'refund.succeeded'
          WHEN NEW.identity LIKE 'refund:%:REFUNDCLOSE' THEN 'refund.closed'
        END AS type) m
  WHERE m.type IS NOT NULL;

  -- The refund that brought the order's refunds to its total also refunds the order (once).
  INSERT OR IGNORE INTO merchant_events (id, source, type, out_trade_no, snapshot, created_at, next_attempt_at, retry_from)
  SELECT 'evt_' || lower(hex(randomblob(12))), 'order.refunded:' || NEW.out_trade_no, 'order.refunded', NEW.out_trade_no,
    json_object('order', json((SELECT snapshot FROM order_snapshots WHERE out_trade_no = NEW.out_trade_no))),
    NEW.created_at, NEW.created_at, NEW.created_at
  WHERE NEW.verdict = 'applied' AND NEW.identity LIKE 'refund:%:SUCCESS'
    AND EXISTS (SELECT 1 FROM orders WHERE out_trade_no = NEW.out_trade_no AND status = 'REFUNDED');
END;
