-- A few products for local development (npm start). Prices are integer fen.
INSERT INTO products (sku, name, price_fen, active, updated_at) VALUES
  ('tea', 'Oolong tea 250g', 1990, 1, 0),
  ('mint', 'Mint candy', 7, 1, 0),
  ('mug', 'Ceramic mug', 4500, 1, 0)
ON CONFLICT (sku) DO NOTHING;
