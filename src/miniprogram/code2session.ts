/**
 * Mini-program login: exchanges a `wx.login` code for openid + session_key
 * (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html).
 * Pure and runtime-neutral: the fetcher and base URL are injected, so the simulator and tests can
 * stand in for api.weixin.qq.com.
 */
import { readBodyCapped, withDeadline, TransportError } from "../wechatpay/http";

/** Inputs; `secret` is the AppSecret and never appears in any result or message. */
export interface Code2SessionInput {
  /** e.g. "https://api.weixin.qq.com" (a trailing slash is tolerated). */
  apiBase: string;
  appId: string;
  secret: string;
  code: string;
  /** Default: globalThis.fetch. */
  fetch?: (req: Request) => Promise<Response>;
  /** Deadline, default 5000 ms. */
  timeoutMs?: number;
}

/** Success carries the session; WeChat errors carry errcode/errmsg for the caller to map. */
export type Code2SessionResult =
  | { ok: true; openid: string; sessionKey: string; unionid: string | null }
  | { ok: false; kind: "wechat"; errcode: number; errmsg: string }
  | { ok: false; kind: "transport"; message: string };

const MAX_REPLY_BYTES = 16 * 1024;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const transport = (message: string): Code2SessionResult => ({ ok: false, kind: "transport", message });

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v !== "";

/**
 * GET `${apiBase}/sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`.
 * The body is parsed as JSON whatever the Content-Type (WeChat has been seen sending text/plain).
 * A missing errcode or errcode 0 is success, but only with non-empty openid and session_key.
 */
export async function code2Session(input: Code2SessionInput): Promise<Code2SessionResult> {
  const query = new URLSearchParams({
    appid: input.appId,
    secret: input.secret,
    js_code: input.code,
    grant_type: "authorization_code",
  });
  const url = `${input.apiBase.replace(/\/+$/, "")}/sns/jscode2session?${query.toString()}`;
  const fetcher = input.fetch ?? ((req: Request) => fetch(req));

  let bytes: Uint8Array;
  try {
    bytes = await withDeadline(input.timeoutMs ?? 5000, async (signal) => {
      const res = await fetcher(new Request(url, { method: "GET", signal }));
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel().catch(() => undefined);
        throw new TransportError(`HTTP ${res.status}`);
      }
      return readBodyCapped(res, MAX_REPLY_BYTES);
    });
  } catch (err) {
    // withDeadline already strips underlying messages, which may contain the URL and thus the secret.
    return transport(err instanceof TransportError ? err.message : "request failed");
  }

  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(bytes));
  } catch {
    return transport("reply is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return transport("malformed");
  const reply = body as Record<string, unknown>;

  const errcode = reply.errcode;
  if (errcode !== undefined && errcode !== 0) {
    if (typeof errcode !== "number" || !Number.isInteger(errcode)) return transport("malformed");
    return { ok: false, kind: "wechat", errcode, errmsg: typeof reply.errmsg === "string" ? reply.errmsg : "" };
  }
  if (!nonEmpty(reply.openid) || !nonEmpty(reply.session_key)) return transport("malformed");
  return {
    ok: true,
    openid: reply.openid,
    sessionKey: reply.session_key,
    unionid: nonEmpty(reply.unionid) ? reply.unionid : null,
  };
}
