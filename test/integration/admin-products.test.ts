// GET /admin/products: the whole catalogue for the merchant console, inactive products included,
// ordered by sku, in the same product JSON as PUT /admin/products/:sku answers; admin auth only.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, api, login, putProduct, rows } from "./harness";

describe("GET /admin/products", () => {
  it("lists every product, inactive ones too, by sku, as PUT answers them", async () => {
    expect((await admin("GET", "/products")).body).toEqual({ products: [] });

    const tea = await putProduct("tea", "Oolong tea 250g", 1990);
    const retired = await putProduct("b-retired", "Retired mug", 4500, false);
    const card = await admin("PUT", "/products/a-card", { name: "电子礼品卡 ¥50", priceFen: 5000, fulfilment: "virtual" });
    expect(card.status).toBe(200);

    const reply = await admin("GET", "/products");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ products: [card.body.product, retired, tea] });
    expect(reply.body.products).toEqual([
      { sku: "a-card", name: "电子礼品卡 ¥50", priceFen: 5000, active: true, fulfilment: "virtual" },
      { sku: "b-retired", name: "Retired mug", priceFen: 4500, active: false, fulfilment: "physical" },
      { sku: "tea", name: "Oolong tea 250g", priceFen: 1990, active: true, fulfilment: "physical" },
    ]);
    // The same rows as D1 holds; the public catalogue leaves the inactive one out.
    expect((await rows<{ sku: string }>("SELECT sku FROM products ORDER BY sku")).map((r) => r.sku)).toEqual(["a-card", "b-retired", "tea"]);
    expect((await api("GET", "/api/products")).body.products.map((p: { sku: string }) => p.sku)).toEqual(["a-card", "tea"]);
  });

  it("follows an edit: a deactivated product stays listed, with its new price and fulfilment kept", async () => {
    await putProduct("edit-me", "Edit me", 100);
    const edited = await admin("PUT", "/products/edit-me", { name: "Edited", priceFen: 995, active: false });
    expect(edited.status).toBe(200);
    const listed = (await admin("GET", "/products")).body.products.find((p: { sku: string }) => p.sku === "edit-me");
    expect(listed).toEqual({ sku: "edit-me", name: "Edited", priceFen: 995, active: false, fulfilment: "physical" });
  });

  it("refuses without the admin token, and with a user's session token", async () => {
    const none = await api("GET", "/admin/products");
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("UNAUTHORIZED");
    const user = await api("GET", "/admin/products", { token: await login("products-user") });
    expect(user.status).toBe(401);
    const wrong = await api("GET", "/admin/products", { token: `${env.ADMIN_TOKEN}x` });
    expect(wrong.status).toBe(401);
  });
});
