/**
 * Outbound HTTP helpers shared by the pay client and code2session: one deadline covering the whole
 * exchange (connect, headers and body), and body reads with a byte cap so a hostile or broken
 * upstream cannot make us buffer megabytes.
 */

/** A fetch-like function; injectable so tests and the mTLS binding can stand in for the network. */
export type Fetcher = (req: Request) => Promise<Response>;

/** Raised for every transport-level failure; `message` is safe to return (no secrets, no bodies). */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}

/** A reply over the byte cap (a TransportError, so callers that do not care need not tell it apart). */
export class ReplyTooLargeError extends TransportError {
  constructor(readonly maxBytes: number) {
    super("reply too large");
    this.name = "ReplyTooLargeError";
  }
}

/**
 * Runs `work(signal)` under a deadline. The signal aborts real fetches; the race also covers an
 * injected fetcher that ignores the signal, so a call can never hang past `timeoutMs`.
 * Rejects with TransportError("timeout") on expiry and TransportError("network error: <name>") for
 * other failures: the underlying message is dropped because it may contain the URL (and the
 * jscode2session URL carries the AppSecret).
 */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new TransportError("timeout"));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } catch (err) {
    if (err instanceof TransportError) throw err;
    const name = err instanceof Error ? err.name : "Error";
    if (name === "AbortError" || name === "TimeoutError") throw new TransportError("timeout");
    throw new TransportError(`network error: ${name}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Reads a response body up to `maxBytes`; more → ReplyTooLargeError ("reply too large"). Checks
 * Content-Length first, then counts streamed bytes (Content-Length may be absent or lie).
 */
export async function readBodyCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = res.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new ReplyTooLargeError(maxBytes);
  }
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
    total += chunk.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ReplyTooLargeError(maxBytes);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Drains and discards a body we will not read, so the connection can be reused. */
export async function discardBody(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}
