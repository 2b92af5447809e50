/**
 * Refund part of a paid order. The amount is typed in yuan and read exactly into fen (money.ts); it
 * must be within the refundable remainder. A confirmation shows the amount; its Idempotency-Key is
 * made when the confirmation opens and kept for every retry of that intent (a double click, a lost
 * answer), so one intent refunds at most once; a new intent (after success or cancel) gets a new key.
 */
import { useRef, useState } from "preact/hooks";
import { ApiProblem, Unreachable } from "../api";
import { useApp } from "../context";
import { formatFen, parseYuan } from "../money";
import type { Refund } from "../types";
import { Alert, Notice, Section } from "../ui/common";
import { ConfirmDialog } from "../ui/dialog";

/** The API's limit on a refund reason (characters). */
const REASON_MAX = 80;

interface Intent {
  fen: number;
  reason: string;
  idempotencyKey: string;
}

export function RefundForm({ outTradeNo, remainder, onDone }: { outTradeNo: string; remainder: number; onDone: () => void }) {
  const { t, api } = useApp();
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const [intent, setIntent] = useState<Intent | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [done, setDone] = useState<Refund | null>(null);
  const [busy, setBusy] = useState(false);
  // A second click can arrive before the re-render that disables the button.
  const sending = useRef(false);

  function review(event: Event) {
    event.preventDefault();
    setDone(null);
    const parsed = parseYuan(amount, remainder);
    if (!parsed.ok) {
      setInvalid(parsed.problem === "tooLarge" ? t("refund.overRemainder", { remainder: formatFen(remainder) }) : t(`amount.${parsed.problem}`));
      return;
    }
    if ([...reason].length > REASON_MAX) {
      setInvalid(t("refund.reasonTooLong", { max: REASON_MAX }));
      return;
    }
    setInvalid(null);
    setFailure(null);
    setIntent({ fen: parsed.fen, reason: reason.trim(), idempotencyKey: crypto.randomUUID() });
  }

  async function confirm() {
    if (!intent || sending.current) return;
    sending.current = true;
    setBusy(true);
    setFailure(null);
    try {
      const { body } = await api.send<{ refund: Refund }>("POST", `/admin/orders/${encodeURIComponent(outTradeNo)}/refunds`, intent.reason ? { refundFee: intent.fen, reason: intent.reason } : { refundFee: intent.fen }, {
        idempotencyKey: intent.idempotencyKey,
      });
      setIntent(null);
      setAmount("");
      setReason("");
      setDone(body.refund);
      onDone();
    } catch (error) {
      // Unreachable: the same intent (and key) is retried by confirming again. An answer that refused
      // it ends the intent: the next try is a new one.
      if (error instanceof Unreachable) setFailure(t("refund.unreachable"));
      else if (error instanceof ApiProblem) {
        setIntent(null);
        setFailure(`${error.message || t("error.http", { status: error.status })} (${error.code})`);
      } else setFailure(t("error.unexpected"));
    } finally {
      sending.current = false;
      setBusy(false);
    }
  }

  return (
    <Section id="refund" title={t("refund.title")}>
      <form onSubmit={review} noValidate>
        <p class="hint" id="refund-remainder">
          {t("refund.remainderHint", { remainder: formatFen(remainder) })}
        </p>
        <div class="field">
          <label for="refund-amount">{t("refund.amountLabel")}</label>
          <input
            id="refund-amount"
            name="amount"
            inputMode="decimal"
            autocomplete="off"
            aria-describedby="refund-remainder"
            aria-invalid={invalid ? true : undefined}
            value={amount}
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="refund-reason">{t("refund.reasonLabel")}</label>
          <input id="refund-reason" name="reason" maxLength={REASON_MAX} autocomplete="off" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </div>
        <Alert text={invalid} />
        <Alert text={intent ? null : failure} />
        <Notice text={done ? t("refund.requested", { amount: formatFen(done.refundFee), outRefundNo: done.outRefundNo, status: done.status }) : null} />
        <button type="submit" class="primary" disabled={remainder === 0}>
          {t("refund.review")}
        </button>
      </form>
      {intent ? (
        <ConfirmDialog
          title={t("refund.confirmTitle")}
          confirmLabel={t("refund.confirm", { amount: formatFen(intent.fen) })}
          busy={busy}
          onConfirm={confirm}
          onCancel={() => {
            if (busy) return;
            setIntent(null);
            setFailure(null);
          }}
        >
          <p>{t("refund.confirmText", { amount: formatFen(intent.fen), outTradeNo })}</p>
          <p class="big-amount" data-testid="confirm-amount">
            {formatFen(intent.fen)}
          </p>
          {intent.reason ? <p>{t("refund.confirmReason", { reason: intent.reason })}</p> : null}
          <Alert text={failure} />
        </ConfirmDialog>
      ) : null}
    </Section>
  );
}
