/** Abuse limits on the Workers rate-limit binding: 429 RATE_LIMITED with Retry-After when exceeded. */
import { ApiError } from "../errors";

/** The binding's window is 60 s, so that is the honest Retry-After. */
const RETRY_AFTER_SECONDS = "60";

export async function enforceRateLimit(limiter: RateLimit | undefined, key: string): Promise<void> {
  if (!limiter) return; // loadConfig() reports a missing binding on /health and refuses to serve
  const { success } = await limiter.limit({ key });
  if (!success) {
    throw new ApiError(429, "RATE_LIMITED", "too many requests; retry in a minute", { "Retry-After": RETRY_AFTER_SECONDS });
  }
}

/** The client's IP as Cloudflare reports it (absent only in local tools that bypass the edge). */
export const clientIp = (header: string | undefined) => header ?? "127.0.0.1";
