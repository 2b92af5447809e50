-- Initial schema. Money is INTEGER fen everywhere; ids are TEXT; times are INTEGER Unix milliseconds
-- (UTC) unless the column name says otherwise (WeChat's Beijing-time strings are kept as sent).

CREATE TABLE users (
  id          TEXT PRIMARY KEY,
  openid      TEXT NOT NULL UNIQUE,
  unionid     TEXT,
  session_key TEXT,              -- server-side only: never returned, never logged
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE products (
  sku        TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  price_fen  INTEGER NOT NULL CHECK (price_fen > 0),
  active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  updated_at INTEGER NOT NULL
);

CREATE TABLE orders (
  out_trade_no   TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users(id),
  openid         TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('NOTPAY', 'PAID', 'CLOSED', 'PAYERROR', 'REFUNDED')),
  total_fee      INTEGER NOT NULL CHECK (total_fee > 0),
  description    TEXT NOT NULL,   -- unifiedorder `body`, already cut to 127 UTF-8 bytes
  attach         TEXT,
  sign_type      TEXT NOT NULL CHECK (sign_type IN ('MD5', 'HMAC-SHA256')),
  client_ip      TEXT NOT NULL,
  notify_url     TEXT NOT NULL,
  time_start     TEXT NOT NULL,   -- Beijing time yyyyMMddHHmmss, exactly as sent to unifiedorder
  time_expire    TEXT NOT NULL,   -- idem; re-entry must resend the identical value
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  prepay_id      TEXT,
  prepay_at      INTEGER,
  paid_at        INTEGER,
  transaction_id TEXT UNIQUE,
  refunded_fee   INTEGER NOT NULL DEFAULT 0 CHECK (refunded_fee >= 0 AND refunded_fee <= total_fee),
  last_query_at  INTEGER,         -- throttles query-on-read (one orderquery per 5 s per order)
  updated_at     INTEGER NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, out_trade_no DESC);
CREATE INDEX orders_by_status ON orders (status, created_at, out_trade_no);

CREATE TABLE order_items (
  out_trade_no TEXT NOT NULL REFERENCES orders(out_trade_no),
  line         INTEGER NOT NULL,
  sku          TEXT NOT NULL,
  name         TEXT NOT NULL,
  quantity     INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 999),
  price_fen    INTEGER NOT NULL CHECK (price_fen > 0),
  PRIMARY KEY (out_trade_no, line)
);

CREATE TABLE refunds (
  out_refund_no TEXT PRIMARY KEY,
  out_trade_no  TEXT NOT NULL REFERENCES orders(out_trade_no),
  refund_fee    INTEGER NOT NULL CHECK (refund_fee > 0),
  status        TEXT NOT NULL CHECK (status IN ('PROCESSING', 'SUCCESS', 'REFUNDCLOSE', 'CHANGE')),
  reason        TEXT,
  refund_id     TEXT,
  created_at    INTEGER NOT NULL,
  succeeded_at  INTEGER,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (out_trade_no, created_at);
CREATE INDEX refunds_by_status ON refunds (status, created_at);

-- Append-only record of every applied state change and every anomaly. `identity` names the fact
-- (e.g. 'pay:<transaction_id>'): the UNIQUE constraint is what makes a transition apply once, whichever
-- path (notify, query-on-read, reconciliation) sees it first.
CREATE TABLE events (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  identity       TEXT NOT NULL UNIQUE,
  kind           TEXT NOT NULL,
  verdict        TEXT NOT NULL CHECK (verdict IN ('applied', 'anomaly')),
  out_trade_no   TEXT,
  transaction_id TEXT,
  out_refund_no  TEXT,
  detail         TEXT,            -- JSON, never secrets or whole notification bodies
  created_at     INTEGER NOT NULL
);
CREATE INDEX events_by_order ON events (out_trade_no, id);
CREATE INDEX events_by_verdict ON events (verdict, id);

CREATE TABLE idempotency_keys (
  user_id      TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
);
