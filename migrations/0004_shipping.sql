-- Shipping information (WeChat's 发货信息管理): enrolled mini-programs get their money only after the
-- merchant uploads shipping information and the user confirms receipt.

-- Products are physical (shipped, default) or virtual (an order of only virtual products is uploaded as
-- logistics_type 3 automatically when it is paid). Items keep what the product was when ordered.
ALTER TABLE products ADD COLUMN fulfilment TEXT NOT NULL DEFAULT 'physical' CHECK (fulfilment IN ('physical', 'virtual'));
ALTER TABLE order_items ADD COLUMN fulfilment TEXT NOT NULL DEFAULT 'physical' CHECK (fulfilment IN ('physical', 'virtual'));

-- Set once, from the settlement message push (trade_manage_order_settlement with a settlement_time).
ALTER TABLE orders ADD COLUMN settled_at INTEGER;

-- One upload of shipping information to WeChat (an order may have an update after its first upload).
CREATE TABLE shipments (
  id              TEXT PRIMARY KEY,                 -- shp_<24 hex>
  out_trade_no    TEXT NOT NULL REFERENCES orders(out_trade_no),
  logistics_type  TEXT NOT NULL CHECK (logistics_type IN ('express', 'same_city', 'virtual', 'pickup')),
  all_delivered   INTEGER,                          -- split delivery (is_all_delivered); NULL: unified
  items           TEXT NOT NULL,                    -- JSON [{trackingNo, expressCompany, itemDesc, contact?}]
  status          TEXT NOT NULL CHECK (status IN ('PENDING', 'UPLOADED', 'FAILED')),
  err_code        INTEGER,                          -- WeChat's errcode of a definitive refusal
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,                 -- when a PENDING upload is next tried (also the claim lease)
  idempotency_key TEXT,                             -- the admin request's Idempotency-Key; 'auto' for virtual orders
  created_at      INTEGER NOT NULL,
  uploaded_at     INTEGER,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX shipments_by_order ON shipments (out_trade_no, created_at);
CREATE INDEX shipments_due ON shipments (status, next_attempt_at);
CREATE UNIQUE INDEX shipments_by_idempotency_key ON shipments (out_trade_no, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Every mini-program message push we accepted, once (WeChat's advice: dedupe on FromUserName +
-- CreateTime, here with the event and the transaction): a replayed push changes nothing.
CREATE TABLE push_messages (
  identity       TEXT PRIMARY KEY,
  event          TEXT NOT NULL,
  transaction_id TEXT,
  out_trade_no   TEXT,
  detail         TEXT NOT NULL,                     -- the push's fields as JSON
  received_at    INTEGER NOT NULL
);

-- The shipment an applied event is about (shipment:<id>:UPLOADED|FAILED).
ALTER TABLE events ADD COLUMN shipment_id TEXT;

CREATE VIEW shipment_snapshots AS
SELECT s.id AS id, json_object(
  'id', s.id, 'out_trade_no', s.out_trade_no, 'logistics_type', s.logistics_type, 'all_delivered', s.all_delivered,
  'items', json(s.items), 'status', s.status, 'err_code', s.err_code, 'uploaded_at', s.uploaded_at, 'created_at', s.created_at
) AS snapshot
FROM shipments s;

-- The order snapshot gains settled_at (merchant events carry the order as the API shows it).
DROP VIEW order_snapshots;
CREATE VIEW order_snapshots AS
SELECT o.out_trade_no AS out_trade_no, json_object(
  'out_trade_no', o.out_trade_no, 'status', o.status, 'total_fee', o.total_fee, 'description', o.description,
  'attach', o.attach, 'created_at', o.created_at, 'expires_at', o.expires_at, 'paid_at', o.paid_at,
  'transaction_id', o.transaction_id, 'refunded_fee', o.refunded_fee, 'settled_at', o.settled_at,
  'items', json((SELECT json_group_array(json_object('sku', i.sku, 'name', i.name, 'quantity', i.quantity, 'price_fen', i.price_fen))
                 FROM (SELECT * FROM order_items WHERE out_trade_no = o.out_trade_no ORDER BY line) i))
) AS snapshot
FROM orders o;

-- The merchant-event trigger of 0003, with the shipping types added.
DROP TRIGGER merchant_event_for_each_fact;
CREATE TRIGGER merchant_event_for_each_fact AFTER INSERT ON events
BEGIN
  INSERT OR IGNORE INTO merchant_events (id, source, type, out_trade_no, snapshot, created_at, next_attempt_at, retry_from)
  SELECT 'evt_' || lower(hex(randomblob(12))), m.type || ':' || NEW.identity, m.type, NEW.out_trade_no,
    json_object(
      'order', json((SELECT snapshot FROM order_snapshots WHERE out_trade_no = NEW.out_trade_no)),
      'refund', json((SELECT snapshot FROM refund_snapshots WHERE out_refund_no = NEW.out_refund_no)),
      'shipment', json((SELECT snapshot FROM shipment_snapshots WHERE id = NEW.shipment_id)),
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
          WHEN NEW.identity LIKE 'shipment:%:UPLOADED' THEN 'shipment.uploaded'
          WHEN NEW.identity LIKE 'shipment:%:FAILED' THEN 'shipment.failed'
          WHEN NEW.identity LIKE 'settled:%' THEN 'order.settled'
        END AS type) m
  WHERE m.type IS NOT NULL;

  INSERT OR IGNORE INTO merchant_events (id, source, type, out_trade_no, snapshot, created_at, next_attempt_at, retry_from)
  SELECT 'evt_' || lower(hex(randomblob(12))), 'order.refunded:' || NEW.out_trade_no, 'order.refunded', NEW.out_trade_no,
    json_object('order', json((SELECT snapshot FROM order_snapshots WHERE out_trade_no = NEW.out_trade_no))),
    NEW.created_at, NEW.created_at, NEW.created_at
  WHERE NEW.verdict = 'applied' AND NEW.identity LIKE 'refund:%:SUCCESS'
    AND EXISTS (SELECT 1 FROM orders WHERE out_trade_no = NEW.out_trade_no AND status = 'REFUNDED');

  -- An order made only of virtual products is shipped (logistics_type 3) as soon as it is paid: the
  -- shipment row is written here, in the payment's transaction, and uploaded like any other.
  INSERT OR IGNORE INTO shipments (id, out_trade_no, logistics_type, items, status, next_attempt_at, idempotency_key, created_at, updated_at)
  SELECT 'shp_' || lower(hex(randomblob(12))), NEW.out_trade_no, 'virtual',
    json_array(json_object('itemDesc', substr(o.description, 1, 120))), 'PENDING', NEW.created_at, 'auto', NEW.created_at, NEW.created_at
  FROM orders o
  WHERE NEW.verdict = 'applied' AND NEW.identity LIKE 'pay:%' AND o.out_trade_no = NEW.out_trade_no
    AND NOT EXISTS (SELECT 1 FROM order_items WHERE out_trade_no = NEW.out_trade_no AND fulfilment <> 'virtual');
END;
