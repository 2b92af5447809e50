/**
 * Products: every product (GET /admin/products, inactive ones too) and one form to edit a product or
 * create a new one (PUT /admin/products/:sku). The price is typed in yuan and read exactly into fen.
 */
import { useRef, useState } from "preact/hooks";
import { useAction, useApp, useLoad } from "../context";
import { fenToYuanInput, parseYuan } from "../money";
import type { Product } from "../types";
import { Alert, Badge, LoadState, Money, Notice, PageHeading, ProblemNote, Section, SelectField } from "../ui/common";
import { DataTable, type Column } from "../ui/table";

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
  const [saved, setSaved] = useState<string | null>(null);
  const saving = useAction();
  const form = useRef<HTMLFormElement>(null);

  const update = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));

  function edit(product: Product) {
    setDraft(draftOf(product));
    setInvalid(null);
    setSaved(null);
    form.current?.querySelector<HTMLInputElement>("#product-name")?.focus();
  }

  function save(event: Event) {
    event.preventDefault();
    setSaved(null);
    const sku = draft.sku.trim();
    if (!/^[\x21-\x7e]{1,64}$/.test(sku)) return setInvalid(t("product.skuInvalid"));
    if (!draft.name.trim()) return setInvalid(t("product.nameRequired"));
    const price = parseYuan(draft.price);
    if (!price.ok) return setInvalid(t(`amount.${price.problem}`));
    setInvalid(null);
    void saving.run(async () => {
      const body = { name: draft.name.trim(), priceFen: price.fen, active: draft.active, fulfilment: draft.fulfilment };
      const reply = await api.send<{ product: Product }>("PUT", `/admin/products/${encodeURIComponent(sku)}`, body);
      setSaved(t("product.saved", { sku: reply.body.product.sku }));
      setDraft(newDraft());
      list.reload();
    });
  }

  const columns: Column<Product>[] = [
    { label: t("product.sku"), class: "mono", cell: (p) => p.sku },
    { label: t("product.name"), cell: (p) => p.name },
    { label: t("product.price"), num: true, cell: (p) => <Money fen={p.priceFen} /> },
    { label: t("product.active"), cell: (p) => (p.active ? <Badge value={t("product.on")} tone="good" /> : <Badge value={t("product.off")} />) },
    { label: t("product.fulfilment"), cell: (p) => t(`fulfilment.${p.fulfilment}`) },
    {
      label: t("product.actions"),
      cell: (p) => (
        <button type="button" onClick={() => edit(p)} aria-label={t("product.editNamed", { sku: p.sku })}>
          {t("product.edit")}
        </button>
      ),
    },
  ];

  return (
    <>
      <PageHeading>{t("products.title")}</PageHeading>
      <LoadState loaded={list}>
        {(data) => <DataTable caption={t("products.caption")} columns={columns} rows={data.products} rowKey={(p) => p.sku} empty={t("products.empty")} busy={list.loading} />}
      </LoadState>

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
          <SelectField
            id="product-fulfilment"
            label={t("product.fulfilment")}
            value={draft.fulfilment}
            options={[
              ["physical", t("fulfilment.physical")],
              ["virtual", t("fulfilment.virtual")],
            ]}
            onChange={(fulfilment) => update({ fulfilment })}
          />
          <div class="field checkbox">
            <input id="product-active" type="checkbox" checked={draft.active} onChange={(e) => update({ active: e.currentTarget.checked })} />
            <label for="product-active">{t("product.activeLabel")}</label>
          </div>
          <Alert text={invalid} />
          <ProblemNote problem={saving.problem} />
          <Notice text={saved} />
          <div class="actions">
            <button type="submit" class="primary" disabled={saving.busy}>
              {saving.busy ? t("common.working") : t("product.save")}
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
