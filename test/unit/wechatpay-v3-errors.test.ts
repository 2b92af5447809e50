// WeChat Pay v3 error replies (src/wechatpay/v3/errors.ts): `{code, message, detail?}` → a typed
// error, retryable only where the docs' error tables say "retry with the same parameters".
import { describe, expect, it } from "vitest";
import { isRetryable, readErrorReply, WechatPayV3Error } from "../../src/wechatpay/v3/errors";

const unverified = { verified: false, requestId: "08F5B8C2B506102C18FDDFEEA30620BE821E28EDC405-0" };
const reply = (status: number, body: unknown) => readErrorReply(status, typeof body === "string" ? body : JSON.stringify(body), unverified);

describe("retryable vs definitive", () => {
  const table: [number, string, boolean][] = [
    [500, "SYSTEM_ERROR", true],
    [500, "BANK_ERROR", true],
    [429, "FREQUENCY_LIMITED", true],
    [503, "SERVICE_UNAVAILABLE", true],
    [400, "STATEMENT_CREATING", true],
    [400, "PARAM_ERROR", false],
    [400, "INVALID_REQUEST", false],
    [400, "APPID_MCHID_NOT_MATCH", false],
    [400, "ORDER_CLOSED", false],
    [401, "SIGN_ERROR", false],
    [403, "NO_AUTH", false],
    [403, "OUT_TRADE_NO_USED", false],
    [403, "NOT_ENOUGH", false],
    [403, "RULE_LIMIT", false],
    [403, "USER_ACCOUNT_ABNORMAL", false],
    [404, "ORDER_NOT_EXIST", false],
    [404, "RESOURCE_NOT_EXISTS", false],
    [400, "NO_STATEMENT_EXIST", false],
    [502, "SOMETHING_NEW", true],
    [400, "SOMETHING_NEW", false],
  ];
  for (const [status, code, retryable] of table) {
    it(`${status} ${code} → ${retryable ? "retryable" : "definitive"}`, () => {
      expect(isRetryable(status, code)).toBe(retryable);
      const err = reply(status, { code, message: "m" });
      expect(err).toBeInstanceOf(WechatPayV3Error);
      expect(err).toMatchObject({ status, code, retryable, wechatMessage: "m", verified: false, requestId: unverified.requestId });
    });
  }

  it("old spellings are normalised (SYSTEMERROR, ORDERNOTEXIST, NOTENOUGH, RATELIMIT_EXCEEDED)", () => {
    expect(reply(500, { code: "SYSTEMERROR", message: "" })).toMatchObject({ code: "SYSTEM_ERROR", retryable: true });
    expect(reply(404, { code: "ORDERNOTEXIST", message: "" })).toMatchObject({ code: "ORDER_NOT_EXIST", retryable: false });
    expect(reply(403, { code: "NOTENOUGH", message: "" })).toMatchObject({ code: "NOT_ENOUGH", retryable: false });
    expect(reply(429, { code: "RATELIMIT_EXCEEDED", message: "" })).toMatchObject({ code: "FREQUENCY_LIMITED", retryable: true });
  });
});

describe("bodies that are not WeChat's JSON", () => {
  it("an HTML 502 page, an empty 500 and a JSON array are HTTP_<status>, retryable by status", () => {
    expect(reply(502, "<html>Bad Gateway</html>")).toMatchObject({ code: "HTTP_502", wechatMessage: "", retryable: true });
    expect(reply(500, "")).toMatchObject({ code: "HTTP_500", retryable: true });
    expect(reply(400, "[1]")).toMatchObject({ code: "HTTP_400", retryable: false });
  });
  it("a code that is not an identifier is not trusted as one", () => {
    expect(reply(400, { code: "<script>", message: "x" })).toMatchObject({ code: "HTTP_400" });
  });
  it("keeps the detail (a JSON pointer to the bad field) and the message", () => {
    const detail = { field: "/amount/currency", value: "XYZ", issue: "Currency code is invalid", location: "body" };
    const err = reply(400, { code: "PARAM_ERROR", message: "参数错误", detail });
    expect(err.detail).toEqual(detail);
    expect(err.message).toBe("WeChat Pay 400 PARAM_ERROR: 参数错误");
    expect(err.signInformation).toBeNull();
  });
});

describe("SIGN_ERROR", () => {
  it("exposes WeChat's view of the signed message for logs (method, url, truncated message, byte length)", () => {
    const signInformation = { method: "POST", url: "/v3/pay/transactions/jsapi", truncated_sign_message: "POST\\n/v3/pay/transactions/jsapi\\n1554208460\\n593BEC0C\\n{\"appid\"\\n", sign_message_length: 318 };
    const err = reply(401, { code: "SIGN_ERROR", message: "签名错误", detail: { detail: { issue: "sign not match" }, sign_information: signInformation } });
    expect(err).toMatchObject({ code: "SIGN_ERROR", retryable: false });
    expect(err.signInformation).toEqual(signInformation);
  });
  it("no sign_information → null", () => {
    expect(reply(401, { code: "SIGN_ERROR", message: "商户证书序列号有误" }).signInformation).toBeNull();
  });
});
