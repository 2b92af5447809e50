/**
 * The first half of every v3 notification (payment or refund): verify the signature over the raw
 * body, then parse and decrypt (wechatpay/v3/callback.ts openCallback), with one certificate
 * refresh for an unknown hex serial. What the handlers answer is a {@link V3NotifyReply}: 200 with
 * no body, or a refusal `{"code":"FAIL","message"}` (https://pay.weixin.qq.com/doc/v3/merchant/4012075420),
 * after which WeChat retries.
 */
import { logEvent } from "../../log";
import { openCallback, type CallbackEvent } from "../../wechatpay/v3/callback";
import type { Deps } from "../deps";

/** A handler's answer: the HTTP status (200 = acknowledged), WeChat's message for a refusal, and what happened (logs). */
export interface V3NotifyReply {
  status: 200 | 400 | 401 | 500 | 503;
  /** For a refusal: the `message` of `{"code":"FAIL"}` (short, nothing internal). */
  message?: string;
  /** For logs: what happened, never the body. */
  outcome: string;
  outTradeNo?: string;
}

export const refuseV3 = (status: V3NotifyReply["status"], message: string, outcome: string): V3NotifyReply => ({ status, message, outcome });

/**
 * Verifies, parses and decrypts a notification; the event, or the refusal to send. Nothing is
 * written for a refusal (a signature probe included). Refusals: any signature failure 401 (an
 * unknown serial after one refresh attempt, so WeChat retries once we know the key); a signed body
 * that is not a notification, or does not decrypt with our APIv3 key, 400; no v3 credentials 503.
 */
export async function openV3Callback(deps: Deps, headers: Headers, body: string): Promise<{ ok: true; event: CallbackEvent } | { ok: false; reply: V3NotifyReply }> {
  const v3 = deps.config.v3;
  if (!v3) return { ok: false, reply: refuseV3(503, "service unavailable", "v3_not_configured") };
  const trust = deps.v3Trust();
  const open = async (store: Awaited<ReturnType<typeof trust.store>>) =>
    openCallback({ headers, body, trust: store, apiV3Key: v3.apiV3Key, now: deps.now() });
  let result = await open(await trust.store());
  if (!result.ok && result.stage === "verify" && result.reason === "unknown_serial" && result.serial !== undefined) {
    const refreshed = await trust.refresh(result.serial); // null for a PUB_KEY_ID_… (logged as a config problem)
    if (refreshed) result = await open(refreshed);
  }
  if (result.ok) return { ok: true, event: result.event };
  if (result.stage === "verify") {
    return { ok: false, reply: refuseV3(401, result.reason === "unknown_serial" ? "unknown serial" : "signature verification failed", `verify:${result.reason}`) };
  }
  if (result.stage === "decrypt") {
    // Signed by WeChat, yet our APIv3 key does not open it: most likely WECHAT_APIV3_KEY is wrong.
    logEvent("v3_callback_decrypt_failed", { reason: result.reason });
  }
  return { ok: false, reply: refuseV3(400, "invalid request", `${result.stage}:${result.reason}`) };
}
