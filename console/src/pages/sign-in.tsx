/** Sign-in with the admin token (kept in sessionStorage only; sent as a bearer token, never in a URL). */
import { useState } from "preact/hooks";
import { ApiProblem, Unreachable, type Api } from "../api";
import type { MessageKey, Translate } from "../i18n";
import { whoAmI } from "../session";
import type { Session } from "../types";
import { Alert } from "../ui/common";

export interface SignInProps {
  t: Translate;
  api: Api;
  /** Why the form is shown (signed out, token refused later, …). */
  notice: MessageKey | null;
  onSignedIn: (session: Session, token: string) => void;
}

export function SignIn({ t, api, notice, onSignedIn }: SignInProps) {
  const [token, setToken] = useState("");
  const [message, setMessage] = useState<string | null>(notice ? t(notice) : null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    const candidate = token.trim();
    if (!candidate) {
      setMessage(t("signIn.empty"));
      return;
    }
    setBusy(true);
    setMessage(null);
    try {
      const session = await whoAmI(api, candidate);
      if (session) onSignedIn(session, candidate);
      else setMessage(t("signIn.refused"));
    } catch (error) {
      if (error instanceof Unreachable) setMessage(t("offline.message"));
      else if (error instanceof ApiProblem) setMessage(`${error.message || t("error.http", { status: error.status })} (${error.code})`);
      else setMessage(t("error.unexpected"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="sign-in">
      <h1>{t("app.title")}</h1>
      <form method="post" onSubmit={submit} class="card" aria-describedby="sign-in-help">
        <h2>{t("signIn.heading")}</h2>
        <p id="sign-in-help" class="hint">
          {t("signIn.help")}
        </p>
        <Alert text={message} />
        <label for="token">{t("signIn.tokenLabel")}</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} aria-required="true" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("common.working") : t("signIn.submit")}
        </button>
      </form>
    </main>
  );
}
