/**
 * The one error type routes and services throw to produce a JSON error
 * `{"error":{"code","message"}}` (README, "HTTP API"). Anything else that escapes is a 500
 * with a generic message: internals never reach a client.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
    /** Extra fields for the error object, e.g. the outTradeNo of an order that was created. */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** 400 naming the offending field. */
export const badRequest = (message: string, code = "BAD_REQUEST") => new ApiError(400, code, message);
export const notFound = (message = "not found") => new ApiError(404, "NOT_FOUND", message);
export const upstreamError = (message = "WeChat did not answer correctly; try again") => new ApiError(502, "UPSTREAM_ERROR", message);
