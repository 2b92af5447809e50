-- Which WeChat Pay API an order was placed with: 'v2' (XML, MD5/HMAC-SHA256) or 'v3' (JSON, RSA).
-- New orders take WECHAT_PAY_API; everything about an order afterwards (payment parameters, query,
-- close, refunds, reconciliation) uses the API it was placed with, so switching the setting is safe
-- with orders in flight. Refunds follow their order's API. Existing rows are v2.
ALTER TABLE orders ADD COLUMN api TEXT NOT NULL DEFAULT 'v2' CHECK (api IN ('v2', 'v3'));

-- Merchant events carry the order as the API shows it, so the snapshot gains `api` (the view of 0004
-- with one more key; the trigger reads the view by name and needs no change).
DROP VIEW order_snapshots;
CREATE VIEW order_snapshots AS
SELECT o.out_trade_no AS out_trade_no, json_object(
  'out_trade_no', o.out_trade_no, 'status', o.status, 'total_fee', o.total_fee, 'description', o.description,
  'attach', o.attach, 'created_at', o.created_at, 'expires_at', o.expires_at, 'paid_at', o.paid_at,
  'transaction_id', o.transaction_id, 'refunded_fee', o.refunded_fee, 'settled_at', o.settled_at,
  'items', json((SELECT json_group_array(json_object('sku', i.sku, 'name', i.name, 'quantity', i.quantity, 'price_fen', i.price_fen))
                 FROM (SELECT * FROM order_items WHERE out_trade_no = o.out_trade_no ORDER BY line) i)),
  'api', o.api
) AS snapshot
FROM orders o;
