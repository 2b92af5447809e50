/**
 * Upload a shipment for a paid order (WeChat's shipping-information service). One Idempotency-Key per
 * submitted form: kept when the request got no answer (so submitting again cannot ship twice), new
 * once the form changes or an answer came.
 */
import { useState } from "preact/hooks";
import { ApiProblem, Unreachable } from "../api";
import { useApp } from "../context";
import { LOGISTICS_TYPES, type LogisticsType, type Shipment, type ShipmentItem } from "../types";
import { Alert, Notice, Section, SelectField } from "../ui/common";

/** WeChat takes 1 to 15 items per shipment. */
const MAX_ITEMS = 15;

interface ItemFields {
  itemDesc: string;
  trackingNo: string;
  expressCompany: string;
  consignorContact: string;
  receiverContact: string;
}

const emptyItem = (): ItemFields => ({ itemDesc: "", trackingNo: "", expressCompany: "", consignorContact: "", receiverContact: "" });

/**
 * The request body: empty optional fields left out, as the API expects. `allDelivered` is sent only
 * for a split delivery (express, several parcels); a unified delivery has exactly one item.
 */
function shipmentBody(logisticsType: LogisticsType, items: readonly ItemFields[], split: boolean, allDelivered: boolean) {
  return {
    logisticsType,
    items: items.map((f): ShipmentItem => {
      const contact = { ...(f.consignorContact.trim() ? { consignorContact: f.consignorContact.trim() } : {}), ...(f.receiverContact.trim() ? { receiverContact: f.receiverContact.trim() } : {}) };
      return {
        itemDesc: f.itemDesc.trim(),
        ...(f.trackingNo.trim() ? { trackingNo: f.trackingNo.trim() } : {}),
        ...(f.expressCompany.trim() ? { expressCompany: f.expressCompany.trim() } : {}),
        ...(Object.keys(contact).length ? { contact } : {}),
      };
    }),
    ...(split ? { allDelivered } : {}),
  };
}

export function ShipmentForm({ outTradeNo, onDone }: { outTradeNo: string; onDone: () => void }) {
  const { t, api } = useApp();
  const [logisticsType, setLogisticsType] = useState<LogisticsType>("express");
  const [items, setItems] = useState<ItemFields[]>([emptyItem()]);
  const [splitChosen, setSplit] = useState(false);
  const [allDelivered, setAllDelivered] = useState(true);
  const split = splitChosen && logisticsType === "express";
  const shown = split ? items : items.slice(0, 1);
  const [key, setKey] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: "problem" | "success"; text: string } | null>(null);

  /** Any edit makes the form a new request (a new Idempotency-Key at the next submit). */
  function edit(change: () => void) {
    change();
    setKey(null);
  }
  const setItem = (i: number, field: keyof ItemFields, value: string) => edit(() => setItems((all) => all.map((item, j) => (j === i ? { ...item, [field]: value } : item))));

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    if (shown.some((item) => !item.itemDesc.trim())) {
      setMessage({ kind: "problem", text: t("shipment.itemDescRequired") });
      return;
    }
    const idempotencyKey = key ?? crypto.randomUUID();
    setKey(idempotencyKey);
    setBusy(true);
    setMessage(null);
    try {
      const { status, body } = await api.send<{ shipment: Shipment }>("POST", `/admin/orders/${encodeURIComponent(outTradeNo)}/shipments`, shipmentBody(logisticsType, shown, split, allDelivered), { idempotencyKey });
      setKey(null);
      setItems([emptyItem()]);
      setMessage({ kind: "success", text: t(status === 202 ? "shipment.pending" : "shipment.uploaded", { status: body.shipment.status }) });
      onDone();
    } catch (error) {
      if (error instanceof Unreachable) setMessage({ kind: "problem", text: t("shipment.unreachable") });
      else {
        setKey(null);
        const text = error instanceof ApiProblem ? `${error.message || t("error.http", { status: error.status })} (${error.code}${error.extra.errCode ? ` ${String(error.extra.errCode)}` : ""})` : t("error.unexpected");
        setMessage({ kind: "problem", text });
        if (error instanceof ApiProblem && error.status === 502) onDone(); // the FAILED shipment is recorded
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section id="shipment" title={t("shipment.title")}>
      <form onSubmit={submit} noValidate>
        <SelectField
          id="ship-type"
          label={t("shipment.logisticsType")}
          value={logisticsType}
          options={LOGISTICS_TYPES.map((type) => [type, t(`logistics.${type}`)] as const)}
          onChange={(value) => edit(() => setLogisticsType(value))}
        />
        {logisticsType === "express" ? (
          <div class="field checkbox">
            <input id="ship-split" type="checkbox" checked={split} onChange={(e) => edit(() => setSplit(e.currentTarget.checked))} />
            <label for="ship-split">{t("shipment.split")}</label>
          </div>
        ) : null}
        {shown.map((item, i) => (
          <fieldset key={i} class="item">
            <legend>{t("shipment.item", { n: i + 1 })}</legend>
            <div class="field">
              <label for={`ship-desc-${i}`}>{t("shipment.itemDesc")}</label>
              <input id={`ship-desc-${i}`} maxLength={120} value={item.itemDesc} onInput={(e) => setItem(i, "itemDesc", e.currentTarget.value)} />
            </div>
            {logisticsType === "express" ? (
              <>
                <div class="field">
                  <label for={`ship-company-${i}`}>{t("shipment.expressCompany")}</label>
                  <input id={`ship-company-${i}`} autocomplete="off" value={item.expressCompany} onInput={(e) => setItem(i, "expressCompany", e.currentTarget.value)} />
                </div>
                <div class="field">
                  <label for={`ship-tracking-${i}`}>{t("shipment.trackingNo")}</label>
                  <input id={`ship-tracking-${i}`} class="mono" autocomplete="off" value={item.trackingNo} onInput={(e) => setItem(i, "trackingNo", e.currentTarget.value)} />
                </div>
                <div class="field">
                  <label for={`ship-receiver-${i}`}>{t("shipment.receiverContact")}</label>
                  <input id={`ship-receiver-${i}`} autocomplete="off" placeholder="189****1234" value={item.receiverContact} onInput={(e) => setItem(i, "receiverContact", e.currentTarget.value)} />
                </div>
                <div class="field">
                  <label for={`ship-consignor-${i}`}>{t("shipment.consignorContact")}</label>
                  <input id={`ship-consignor-${i}`} autocomplete="off" value={item.consignorContact} onInput={(e) => setItem(i, "consignorContact", e.currentTarget.value)} />
                </div>
              </>
            ) : null}
            {shown.length > 1 ? (
              <button type="button" onClick={() => edit(() => setItems((all) => all.filter((_, j) => j !== i)))}>
                {t("shipment.removeItem", { n: i + 1 })}
              </button>
            ) : null}
          </fieldset>
        ))}
        {split && items.length < MAX_ITEMS ? (
          <button type="button" onClick={() => edit(() => setItems((all) => [...all, emptyItem()]))}>
            {t("shipment.addItem")}
          </button>
        ) : null}
        {split ? (
          <div class="field checkbox">
            <input id="ship-all" type="checkbox" checked={allDelivered} onChange={(e) => edit(() => setAllDelivered(e.currentTarget.checked))} />
            <label for="ship-all">{t("shipment.allDelivered")}</label>
          </div>
        ) : null}
        {message?.kind === "problem" ? <Alert text={message.text} /> : <Notice text={message?.text} />}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("common.working") : t("shipment.submit")}
        </button>
      </form>
    </Section>
  );
}
