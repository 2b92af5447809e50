/**
 * Structured logs: one JSON object per event on stdout, picked up by Workers observability.
 * Callers pass identifiers and outcomes only: never keys, tokens, session keys or whole bodies.
 */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export function logEvent(event: string, fields: LogFields = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}
