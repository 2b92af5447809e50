/**
 * The console shell: language, session (Cloudflare Access or the admin token), the offline banner,
 * the navigation and the page of the current route. A 401 from any admin call signs out.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { createApi, Unreachable } from "./api";
import { AppContext, type AppContextValue } from "./context";
import { HTML_LANG, isLang, preferredLang, translator, type Lang, type MessageKey, type Translate } from "./i18n";
import { AnomaliesPage } from "./pages/anomalies";
import { HealthPage } from "./pages/health";
import { OrderPage } from "./pages/order";
import { OrdersPage } from "./pages/orders";
import { ProductsPage } from "./pages/products";
import { ReconciliationPage } from "./pages/reconciliation";
import { SignIn } from "./pages/sign-in";
import { WebhookPage, WebhooksPage } from "./pages/webhooks";
import { href, useRoute, type Route } from "./router";
import { whoAmI } from "./session";
import { clearToken, readLang, readToken, saveLang, saveToken } from "./storage";
import type { Session } from "./types";

type Auth = { state: "checking" } | { state: "signedOut"; notice: MessageKey | null } | { state: "signedIn"; session: Session };

/** Where Cloudflare Access ends its session. */
const ACCESS_LOGOUT = "/cdn-cgi/access/logout";

const NAV: { page: Route["page"]; label: MessageKey; also?: Route["page"] }[] = [
  { page: "orders", label: "nav.orders", also: "order" },
  { page: "anomalies", label: "nav.anomalies" },
  { page: "reconciliation", label: "nav.reconciliation" },
  { page: "webhooks", label: "nav.webhooks", also: "webhook" },
  { page: "products", label: "nav.products" },
  { page: "health", label: "nav.health" },
];

function initialLang(): Lang {
  const saved = readLang();
  return isLang(saved) ? saved : preferredLang(navigator.languages ?? [navigator.language]);
}

export function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const t = useMemo(() => translator(lang), [lang]);
  const [auth, setAuth] = useState<Auth>({ state: "checking" });
  const [offline, setOffline] = useState(false);
  const [reloadTick, setReloadTick] = useState(0);
  const [checkTick, setCheckTick] = useState(0);

  const api = useMemo(
    () =>
      createApi({
        token: readToken,
        unauthorized: () => {
          clearToken();
          setAuth({ state: "signedOut", notice: "signIn.expired" });
        },
        unreachable: () => setOffline(true),
        reached: () => setOffline(false),
      }),
    [],
  );

  useEffect(() => {
    document.documentElement.lang = HTML_LANG[lang];
    document.title = t("app.title");
  }, [lang, t]);

  // On load: the saved token if there is one, else whatever Cloudflare Access says (no token sent).
  useEffect(() => {
    const token = readToken();
    whoAmI(api, token).then(
      (session) => {
        if (session) setAuth({ state: "signedIn", session });
        else {
          if (token) clearToken();
          setAuth({ state: "signedOut", notice: token ? "signIn.expired" : null });
        }
      },
      (error: unknown) => setAuth({ state: "signedOut", notice: error instanceof Unreachable ? "offline.message" : "error.unexpected" }),
    );
  }, [api, checkTick]);

  function switchLang() {
    const next: Lang = lang === "zh" ? "en" : "zh";
    saveLang(next);
    setLang(next);
  }

  function signOut() {
    clearToken();
    if (auth.state === "signedIn" && auth.session.via === "access") location.assign(ACCESS_LOGOUT);
    else setAuth({ state: "signedOut", notice: "signIn.signedOut" });
  }

  // Retry: signed in, the page loads again; else the session check runs again.
  function retry() {
    if (auth.state === "signedIn") setReloadTick((n) => n + 1);
    else {
      setAuth({ state: "checking" });
      setCheckTick((n) => n + 1);
    }
  }

  const banner = offline ? <OfflineBanner t={t} onRetry={retry} /> : null;
  const langSwitch = (
    <button type="button" class="lang" lang={lang === "zh" ? "en" : "zh-CN"} onClick={switchLang}>
      {t("lang.switch")}
    </button>
  );

  if (auth.state !== "signedIn") {
    return (
      <>
        <header class="topbar">
          <span class="brand">{t("app.title")}</span>
          {langSwitch}
        </header>
        {banner}
        {auth.state === "checking" ? (
          <main id="main">
            <p role="status" class="loading">
              {t("signIn.checking")}
            </p>
          </main>
        ) : (
          <SignIn
            key={`${lang}-${auth.notice}`}
            t={t}
            api={api}
            notice={auth.notice}
            onSignedIn={(session, token) => {
              saveToken(token);
              setAuth({ state: "signedIn", session });
            }}
          />
        )}
      </>
    );
  }

  const context: AppContextValue = { t, lang, api, session: auth.session, reloadTick };
  return (
    <AppContext.Provider value={context}>
      <SignedIn t={t} session={auth.session} banner={banner} langSwitch={langSwitch} onSignOut={signOut} />
    </AppContext.Provider>
  );
}

function OfflineBanner({ t, onRetry }: { t: Translate; onRetry: () => void }) {
  return (
    <div role="alert" class="banner">
      <span>{t("offline.message")}</span>
      <button type="button" onClick={onRetry}>
        {t("offline.retry")}
      </button>
    </div>
  );
}

function SignedIn({ t, session, banner, langSwitch, onSignOut }: { t: Translate; session: Session; banner: ComponentChildren; langSwitch: ComponentChildren; onSignOut: () => void }) {
  const route = useRoute();
  const who = session.via === "access" ? t("session.access", { actor: session.actor || "–" }) : t("session.token");
  return (
    <>
      <header class="topbar">
        <span class="brand">{t("app.title")}</span>
        <span class="who" data-testid="actor">
          {who}
        </span>
        {langSwitch}
        <button type="button" onClick={onSignOut}>
          {t("session.signOut")}
        </button>
      </header>
      <nav class="nav" aria-label={t("nav.label")}>
        <ul>
          {NAV.map((item) => {
            const current = route.page === item.page || route.page === item.also;
            return (
              <li key={item.page}>
                <a href={href({ page: item.page } as Route)} aria-current={current ? "page" : undefined}>
                  {t(item.label)}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      {banner}
      <main id="main" class="page">
        <Page route={route} />
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "orders":
      return <OrdersPage />;
    case "order":
      return <OrderPage key={route.outTradeNo} outTradeNo={route.outTradeNo} />;
    case "anomalies":
      return <AnomaliesPage />;
    case "reconciliation":
      return <ReconciliationPage />;
    case "webhooks":
      return <WebhooksPage />;
    case "webhook":
      return <WebhookPage key={route.id} id={route.id} />;
    case "products":
      return <ProductsPage />;
    case "health":
      return <HealthPage />;
  }
}
