/**
 * What the order services do with a v3 call that produced no verified data (client.ts V3Failure):
 * log it (a SIGN_ERROR with WeChat's view of the message we signed, never a key), read its code,
 * and turn it into the same HTTP answers v2 gives.
 */
import { ApiError, upstreamError } from "../../errors";
import { logEvent, type LogFields } from "../../log";
import type { V3Failure } from "../../wechatpay/v3/client";

/** WeChat's error code when WeChat answered with one (normalised: SYSTEMERROR → SYSTEM_ERROR), else null. */
export function errorCode(failure: V3Failure): string | null {
  return failure.kind === "api_error" ? failure.error.code : null;
}

/** A code WeChat SIGNED: only such a reply may justify writing state (an unsigned error body is not proof). */
export function verifiedCode(failure: V3Failure): string | null {
  return failure.kind === "api_error" && failure.error.verified ? failure.error.code : null;
}

/** One log line for a failed v3 call: kind, code, HTTP status, Request-ID and, for SIGN_ERROR, WeChat's hint. */
export function logV3Failure(event: string, fields: LogFields, failure: V3Failure): void {
  const detail: LogFields = { ...fields, kind: failure.kind };
  if (failure.kind === "api_error") {
    const { error } = failure;
    Object.assign(detail, { code: error.code, status: error.status, verified: error.verified, requestId: error.requestId });
    const info = error.signInformation;
    if (info) {
      Object.assign(detail, {
        signMethod: info.method,
        signUrl: info.url,
        signMessage: info.truncated_sign_message,
        signMessageLength: info.sign_message_length,
      });
    }
  } else if (failure.kind === "unverified") {
    Object.assign(detail, { reason: failure.reason, serial: failure.serial, requestId: failure.requestId });
  } else {
    detail.message = failure.message;
  }
  logEvent(event, detail);
}

/** The API answer for a failure v2 would also answer 502/504 for: 504 on a timeout, else 502 UPSTREAM_ERROR. */
export function upstreamFailure(failure: V3Failure): ApiError {
  if (failure.kind === "transport" && failure.message === "timeout") {
    return new ApiError(504, "UPSTREAM_ERROR", "WeChat did not answer in time; try again");
  }
  return upstreamError();
}
