/**
 * Products: every product (GET /admin/products, inactive ones too) and one form to edit a product or
 * create a new one (PUT /admin/products/:sku). The price is typed in yuan and read exactly into fen.
 */
import { useRef, useState } from "preact/hooks";
import { ApiProblem, Unreachable } from "../api";
import { useApp, useLoad } from "../context";
import { fenToYuanInput, parseYuan } from "../money";
import type { Product } from "../types";
import { Badge, EmptyRow, Loading, Money, PageHeading, ProblemNote, Section } from "../ui/common";

interface Draft {
  /** The product being edited, or null for a new one. */
  editing: string | null;
  sku: string;
  name: string;
  price: string;
  active: boolean;
  fulfilment: Product["fulfilment"];
}

const newDraft = (): Draft => ({ editing: null, sku: "", name: "", price: "", active: true, fulfilment: "physical" });
const draftOf = (p: Product): Draft => ({ editing: p.sku, sku: p.sku, name: p.name, price: fenToYuanInput(p.priceFen), active: p.active, fulfilment: p.fulfilment });

export function ProductsPage() {
  const { t, api } = useApp();
  const list = useLoad(() => api.get<{ products: Product[] }>("/admin/products"), []);
  const [draft, setDraft] = useState<Draft>(newDraft);
  const [invalid, setInvalid] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const update = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));

  function edit(product: Product) {
    setDraft(draftOf(product));
    setInvalid(null);
    setProblem(null);
    setSaved(null);
    form.current?.querySelector<HTMLInputElement>("#product-name")?.focus();
  }

  async function save(event: Event) {
    event.preventDefault();
    if (busy) return;
    setSaved(null);
    setProblem(null);
    const sku = draft.sku.trim();
    if (!/^[\x21-\x7e]{1,64}$/.test(sku)) return setInvalid(t("product.skuInvalid"));
    if (!draft.name.trim()) return setInvalid(t("product.nameRequired"));
    const price = parseYuan(draft.price);
    if (!price.ok) return setInvalid(t(`amount.${price.problem}`));
    setInvalid(null);
    setBusy(true);
    try {
      const { body } = await api.send<{ product: Product }>("PUT", `/admin/products/${encodeURIComponent(sku)}`, { name: draft.name.trim(), priceFen: price.fen, active: draft.active, fulfilment: draft.fulfilment });
      setSaved(t("product.saved", { sku: body.product.sku }));
      setDraft(newDraft());
      list.reload();
    } catch (error) {
      if (error instanceof ApiProblem) setProblem(error);
      else if (!(error instanceof Unreachable)) throw error;
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <PageHeading>{t("products.title")}</PageHeading>
      <ProblemNote problem={list.problem} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        <table class="table" aria-busy={list.loading}>
          <caption>{t("products.caption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("product.sku")}</th>
              <th scope="col">{t("product.name")}</th>
              <th scope="col" class="num">{t("product.price")}</th>
              <th scope="col">{t("product.active")}</th>
              <th scope="col">{t("product.fulfilment")}</th>
              <th scope="col">{t("product.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.products.length === 0 ? <EmptyRow columns={6} text={t("products.empty")} /> : null}
            {list.data.products.map((product) => (
              <tr key={product.sku}>
                <td class="mono">{product.sku}</td>
                <td>{product.name}</td>
                <td class="num">
                  <Money fen={product.priceFen} />
                </td>
                <td>{product.active ? <Badge value={t("product.on")} tone="good" /> : <Badge value={t("product.off")} />}</td>
                <td>{t(`fulfilment.${product.fulfilment}`)}</td>
                <td>
                  <button type="button" onClick={() => edit(product)} aria-label={t("product.editNamed", { sku: product.sku })}>
                    {t("product.edit")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}

      <Section id="product-form" title={draft.editing ? t("product.editTitle", { sku: draft.editing }) : t("product.newTitle")}>
        <form ref={form} onSubmit={save} noValidate>
          <div class="field">
            <label for="product-sku">{t("product.sku")}</label>
            <input id="product-sku" class="mono" autocomplete="off" readOnly={draft.editing !== null} value={draft.sku} onInput={(e) => update({ sku: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="product-name">{t("product.name")}</label>
            <input id="product-name" maxLength={100} autocomplete="off" value={draft.name} onInput={(e) => update({ name: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="product-price">{t("product.priceLabel")}</label>
            <input id="product-price" inputMode="decimal" autocomplete="off" value={draft.price} onInput={(e) => update({ price: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="product-fulfilment">{t("product.fulfilment")}</label>
            <select id="product-fulfilment" value={draft.fulfilment} onChange={(e) => update({ fulfilment: e.currentTarget.value as Product["fulfilment"] })}>
              <option value="physical">{t("fulfilment.physical")}</option>
              <option value="virtual">{t("fulfilment.virtual")}</option>
            </select>
          </div>
          <div class="field checkbox">
            <input id="product-active" type="checkbox" checked={draft.active} onChange={(e) => update({ active: e.currentTarget.checked })} />
            <label for="product-active">{t("product.activeLabel")}</label>
          </div>
          {invalid ? (
            <p role="alert" class="problem">
              {invalid}
            </p>
          ) : null}
          <ProblemNote problem={problem} />
          {saved ? (
            <p role="status" class="success">
              {saved}
            </p>
          ) : null}
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {busy ? t("common.working") : t("product.save")}
            </button>
            {draft.editing ? (
              <button type="button" onClick={() => setDraft(newDraft())}>
                {t("product.new")}
              </button>
            ) : null}
          </div>
        </form>
      </Section>
    </>
  );
}
