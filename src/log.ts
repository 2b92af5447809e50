/**
 * Structured logs: one JSON object per event on stdout, picked up by Workers observability
 * (`"observability"` in wrangler.jsonc). Inside a request the request id is added automatically.
 * Callers pass identifiers and outcomes only: never keys, tokens, session keys or whole bodies.
 */
import { tryGetContext } from "hono/context-storage";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export function logEvent(event: string, fields: LogFields = {}): void {
  const requestId = tryGetContext<{ Variables: { requestId: string } }>()?.var.requestId;
  console.log(JSON.stringify({ event, ...(requestId ? { requestId } : {}), ...fields }));
}

/**
 * Our own failure (D1 down, a bug) that escaped a route: logged with its name and message, never a
 * stack; the client only gets a generic 500.
 */
export function logUnhandledError(path: string, error: unknown): void {
  logEvent("unhandled_error", { path, error: error instanceof Error ? `${error.name}: ${error.message}` : "unknown" });
}
