/**
 * GET /admin/products (mounted under the admin routes, same auth): the whole catalogue, inactive
 * products too, for the merchant console's product page. (`GET /api/products` lists only what is on sale.)
 */
import { Hono } from "hono/tiny";
import { productJson } from "../orders/view";
import { listAllProducts } from "../store/products";
import type { AppEnv } from "./types";

export const adminProductRoutes = new Hono<AppEnv>();

adminProductRoutes.get("/products", async (c) => {
  const rows = await listAllProducts(c.env.DB);
  return c.json({ products: rows.map(productJson) });
});
