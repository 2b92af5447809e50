/** What every page needs from the app: words, the API client, the reload signal and the session. */
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import { ApiProblem, Unreachable, type Api } from "./api";
import type { Lang, Translate } from "./i18n";
import type { Session } from "./types";

export interface AppContextValue {
  t: Translate;
  lang: Lang;
  api: Api;
  session: Session;
  /** Changes when the offline banner's "retry" is pressed: pages load again. */
  reloadTick: number;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp outside the signed-in app");
  return value;
}

export interface Loaded<T> {
  data: T | undefined;
  /** The API's error answer; an unreachable server shows as the app's offline banner instead. */
  problem: ApiProblem | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` when `deps` change (and on the banner's retry); only the latest run's answer is kept,
 * so a slow old page never overwrites a newer one.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const { reloadTick } = useApp();
  const [state, setState] = useState<{ data: T | undefined; problem: ApiProblem | null; loading: boolean }>({ data: undefined, problem: null, loading: true });
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  useEffect(() => {
    const mine = ++run.current;
    setState((s) => ({ ...s, loading: true, problem: null }));
    load().then(
      (data) => mine === run.current && setState({ data, problem: null, loading: false }),
      (error: unknown) => {
        if (mine !== run.current) return;
        setState((s) => ({ ...s, loading: false, problem: error instanceof ApiProblem ? error : null }));
      },
    );
  }, [...deps, reloadTick, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

export interface Action {
  busy: boolean;
  /** The API's refusal of the last run; an unreachable server shows as the offline banner instead. */
  problem: ApiProblem | null;
  /** Runs `work` unless a run is still going (a second click does nothing). */
  run: (work: () => Promise<void>) => Promise<void>;
}

/** A button's action: busy while it runs, at most one run at a time, the API's refusal kept to show. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  // A second click can arrive before the re-render that disables the button.
  const running = useRef(false);
  const run = useCallback(async (work: () => Promise<void>) => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setProblem(null);
    try {
      await work();
    } catch (error) {
      if (error instanceof ApiProblem) setProblem(error);
      else if (!(error instanceof Unreachable)) throw error;
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);
  return { busy, problem, run };
}
