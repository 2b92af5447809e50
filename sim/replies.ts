// How the simulator answers: XML envelopes (unsigned return_code=FAIL, signed SUCCESS / business
// FAIL replies shaped like WeChat's), JSON for the control API, and the control API's error type.
import { isSignType, randomHex, randomNonce, sign } from "./crypto.ts";
import type { SignType } from "./crypto.ts";
import type { SimState } from "./state.ts";
import { buildXml } from "./xml.ts";

/** One accepted Pay API request: its path, its fields and the algorithm it was signed with. */
export interface Ctx {
  path: string;
  fields: Record<string, string>;
  signType: SignType;
}

/** The Ctx of a request whose envelope may not have been checked (absent or unknown sign_type = MD5). */
export function ctxFor(path: string, fields: Record<string, string> | null): Ctx {
  const f = fields ?? {};
  return { path, fields: f, signType: isSignType(f.sign_type) ? f.sign_type : "MD5" };
}

export function xmlResponse(xml: string, status = 200): Response {
  return new Response(xml, { status, headers: { "Content-Type": "text/xml; charset=UTF-8" } });
}

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });
}

/** return_code=FAIL envelope: unsigned and without result_code, as WeChat answers envelope errors. */
export function envelopeFail(msg: string, extra: Record<string, string> = {}): Response {
  return xmlResponse(buildXml({ return_code: "FAIL", return_msg: msg, ...extra }));
}

/** A return_code=SUCCESS reply, signed like WeChat's: with the request's algorithm, no sign_type field. */
export function signedReply(s: SimState, ctx: Ctx, fields: Record<string, string | undefined>): Response {
  const f: Record<string, string> = {
    return_code: "SUCCESS",
    return_msg: "OK",
    appid: ctx.fields.appid ?? s.options.appId,
    mch_id: ctx.fields.mch_id ?? s.options.mchId,
    nonce_str: randomNonce(16),
  };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) f[k] = v;
  f.sign = sign(f, s.options.apiKey, ctx.signType);
  return xmlResponse(buildXml(f));
}

/** A signed business error: result_code=FAIL with err_code and err_code_des. */
export function bizFail(s: SimState, ctx: Ctx, errCode: string, errCodeDes: string, extra: Record<string, string> = {}): Response {
  return signedReply(s, ctx, { result_code: "FAIL", err_code: errCode, err_code_des: errCodeDes, ...extra });
}

/** The request id WeChat appends to jscode2session error messages (", rid: …"). */
export function rid(): string {
  return `${randomHex(4)}-${randomHex(4)}-${randomHex(4)}`;
}

/** A refused control call: answered as `{"error": message, "code": code}` with `status`. */
export class ControlError extends Error {
  status: number;
  code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
