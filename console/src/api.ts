/**
 * The console's only way to the server: same-origin fetches of the public admin API (and /health).
 * The admin token, when there is one, travels as `Authorization: Bearer`; without one the request
 * relies on Cloudflare Access (its cookie goes along with same-origin requests). Answers are sorted
 * into three kinds the pages handle differently: a value (2xx), an {@link ApiProblem} (the API's
 * JSON error, shown with its message and code), and {@link Unreachable} (no answer at all: the
 * offline banner). A 401 also tells the app, which signs out.
 */

/** The API answered with an error: `{"error":{"code","message",...}}` (or something else non-2xx). */
export class ApiProblem extends Error {
  override readonly name = "ApiProblem";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error object's other fields (errCode, outRefundNo, shipmentId, …). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** No answer: the network is down, the server is not running, or the answer was cut. */
export class Unreachable extends Error {
  override readonly name = "Unreachable";
}

export interface CallOptions {
  body?: unknown;
  /** Sent as `Idempotency-Key` (refunds, shipments). */
  idempotencyKey?: string;
  /**
   * The bearer token: by default the signed-in one (and a 401 then signs out); a candidate token
   * while signing in, or null for none (the Access probe, /health). Either of those never signs out.
   */
  token?: string | null;
  /** 2xx statuses are always values; these other statuses are values too (e.g. /health's 503). */
  acceptStatus?: readonly number[];
}

export interface Reply<T> {
  status: number;
  body: T;
}

export interface Api {
  call<T>(method: string, path: string, options?: CallOptions): Promise<Reply<T>>;
  get<T>(path: string, options?: CallOptions): Promise<T>;
  send<T>(method: string, path: string, body: unknown, options?: CallOptions): Promise<Reply<T>>;
}

export interface ApiHooks {
  token(): string | null;
  /** A request carrying our credentials was refused with 401. */
  unauthorized(): void;
  /** A request got no answer. */
  unreachable(): void;
  /** A request got an answer (the server is reachable again). */
  reached(): void;
}

const problemOf = (status: number, body: unknown): ApiProblem => {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  if (error && typeof error.code === "string" && typeof error.message === "string") {
    const { code, message, ...extra } = error;
    return new ApiProblem(status, code, message, extra);
  }
  return new ApiProblem(status, `HTTP_${status}`, "");
};

/** The API client; `hooks` connect it to the app's session and offline banner. */
export function createApi(hooks: ApiHooks): Api {
  async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = options.token === undefined ? hooks.token() : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
    let response: Response;
    let text: string;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        credentials: "same-origin",
        cache: "no-store",
      });
      text = await response.text();
    } catch {
      hooks.unreachable();
      throw new Unreachable();
    }
    hooks.reached();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    if (response.ok || options.acceptStatus?.includes(response.status)) return { status: response.status, body: body as T };
    if (response.status === 401 && options.token === undefined) hooks.unauthorized();
    throw problemOf(response.status, body);
  }
  return {
    call,
    get: async <T>(path: string, options?: CallOptions) => (await call<T>("GET", path, options)).body,
    send: <T>(method: string, path: string, body: unknown, options?: CallOptions) => call<T>(method, path, { ...options, body }),
  };
}
