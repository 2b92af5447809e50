/**
 * WeChat Pay v3 error replies: the HTTP status carries the outcome, the body
 * `{"code","message","detail"?}` says why (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/basic-rules.html).
 * Logic keys on `code` and the status only (the same code comes with different messages).
 *
 * `retryable` follows the error tables of the prepay, close and refund pages
 * (https://pay.weixin.qq.com/docs/partner/apis/partner-miniprogram-payment/close-order.html,
 * https://pay.weixin.qq.com/doc/v3/merchant/4012552567): retry with the same ids and parameters only
 * for server-side and rate-limit errors; everything else needs a different request or a person.
 */
import { isJsonObject } from "./models";

/** `detail.sign_information` of a 401 SIGN_ERROR: WeChat's view of the message we signed. */
export interface SignInformation {
  method?: string;
  url?: string;
  /** The start of the message WeChat rebuilt, line breaks shown as `\n`. */
  truncated_sign_message?: string;
  /** Its length in bytes, to compare with the message we signed. */
  sign_message_length?: number;
}

/** Codes worth retrying with the same parameters and ids, with backoff (STATEMENT_CREATING: the bill is not ready yet). */
const RETRYABLE = new Set(["SYSTEM_ERROR", "BANK_ERROR", "FREQUENCY_LIMITED", "SERVICE_UNAVAILABLE", "STATEMENT_CREATING"]);

/** Older pages spell some codes without underscores; the gitbook calls the rate limit RATELIMIT_EXCEEDED. */
const ALIASES: Record<string, string> = {
  SYSTEMERROR: "SYSTEM_ERROR",
  BANKERROR: "BANK_ERROR",
  ORDERNOTEXIST: "ORDER_NOT_EXIST",
  NOTENOUGH: "NOT_ENOUGH",
  RULELIMIT: "RULE_LIMIT",
  RATELIMIT_EXCEEDED: "FREQUENCY_LIMITED",
};

/** A non-2xx reply from WeChat Pay v3. Unless `verified`, it is unauthenticated: fine for logs and retry decisions, never proof. */
export class WechatPayV3Error extends Error {
  constructor(
    readonly status: number,
    /** WeChat's code, old spellings normalised (SYSTEMERROR → SYSTEM_ERROR); `HTTP_<status>` when the body had none. */
    readonly code: string,
    /** WeChat's message (may echo merchant input: escape before rendering). */
    readonly wechatMessage: string,
    /** Whether repeating the same request later can succeed. */
    readonly retryable: boolean,
    /** WeChat's `detail`, as sent. */
    readonly detail: unknown,
    /** True only when the reply carried a signature that verified. */
    readonly verified: boolean,
    /** The `Request-ID` header, which WeChat support asks for. */
    readonly requestId: string | null,
  ) {
    super(`WeChat Pay ${status} ${code}${wechatMessage ? `: ${wechatMessage}` : ""}`);
    this.name = "WechatPayV3Error";
  }

  /** For SIGN_ERROR: WeChat's view of what we signed (compare with our message and its byte length). Never contains our key. */
  get signInformation(): SignInformation | null {
    if (this.code !== "SIGN_ERROR" || !isJsonObject(this.detail)) return null;
    const info = this.detail.sign_information;
    return isJsonObject(info) ? (info as SignInformation) : null;
  }
}

/** Codes that need a different request, other funds or a person: repeating the same request cannot help. */
const DEFINITIVE = new Set([
  "PARAM_ERROR", "INVALID_REQUEST", "SIGN_ERROR", "APPID_MCHID_NOT_MATCH", "MCH_NOT_EXISTS", "ORDER_CLOSED",
  "OUT_TRADE_NO_USED", "NO_AUTH", "RULE_LIMIT", "TRADE_ERROR", "ACCOUNT_ERROR", "NOT_ENOUGH",
  "USER_ACCOUNT_ABNORMAL", "ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS", "NO_STATEMENT_EXIST",
]);

/** Whether an error is worth retrying unchanged: the listed codes first; for any other code, 429 and 5xx. */
export function isRetryable(status: number, code: string): boolean {
  if (RETRYABLE.has(code)) return true;
  if (DEFINITIVE.has(code)) return false;
  return status === 429 || status >= 500;
}

/**
 * The error of a non-2xx reply from its status, raw body and headers. Never throws: a body that is
 * not WeChat's JSON shape becomes `HTTP_<status>` with an empty message.
 */
export function readErrorReply(status: number, body: string, opts: { verified: boolean; requestId: string | null }): WechatPayV3Error {
  let code = `HTTP_${status}`;
  let message = "";
  let detail: unknown;
  try {
    const parsed: unknown = JSON.parse(body);
    if (isJsonObject(parsed)) {
      if (typeof parsed.code === "string" && /^[A-Za-z0-9_]{1,64}$/.test(parsed.code)) code = ALIASES[parsed.code] ?? parsed.code;
      if (typeof parsed.message === "string") message = parsed.message.slice(0, 500);
      detail = parsed.detail;
    }
  } catch {
    // not JSON (a proxy's HTML page, an empty 502): the status alone decides
  }
  return new WechatPayV3Error(status, code, message, isRetryable(status, code), detail, opts.verified, opts.requestId);
}
