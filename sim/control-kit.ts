// What every control route module shares: the route type GET /__sim/ lists, and reading a control
// call's JSON body and path parameters with clear 4xx refusals.
import type { Context } from "hono";
import { ControlError } from "./replies.ts";
import type { SimState } from "./state.ts";

/** One control endpoint: what GET /__sim/ lists, and what answers it. */
export interface ControlRoute {
  method: "GET" | "POST";
  path: string;
  description: string;
  handle(s: SimState, c: Context): Response | Promise<Response>;
}

/** The JSON object body of a control call ({} when empty). */
export async function readJson(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.raw.text();
  if (text.trim() === "") return {};
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ControlError(400, "BAD_JSON", "body must be a JSON object");
}

/** The record the path parameter `name` names, or a 404 ControlError `code` ("no <what> <id>"). */
export function named<T>(c: Context, name: string, records: Map<string, T>, code: string, what: string): T {
  const id = c.req.param(name) as string;
  const record = records.get(id);
  if (record === undefined) throw new ControlError(404, code, `no ${what} ${id}`);
  return record;
}

/** A 400 BAD_REQUEST refusal. */
export function badRequest(message: string): ControlError {
  return new ControlError(400, "BAD_REQUEST", message);
}
