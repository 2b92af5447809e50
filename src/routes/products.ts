/** GET /api/products: the active catalogue, prices in fen. */
import { Hono } from "hono/tiny";
import { listActiveProducts } from "../store/products";
import type { AppEnv } from "./types";

export const productRoutes = new Hono<AppEnv>();

productRoutes.get("/products", async (c) => {
  const products = await listActiveProducts(c.env.DB);
  return c.json({ products: products.map((p) => ({ sku: p.sku, name: p.name, priceFen: p.price_fen })) });
});
