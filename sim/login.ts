// GET /sns/jscode2session: the mini-program login (wx.login code → openid + session_key), with
// WeChat's errcodes. Scripted code prefixes (bad*, ratelimit*, risky*, busy*) play its failures.
import { randomBase64, signEquals, stableTag } from "./crypto.ts";
import { hang, immediateFault, takeFault } from "./faults.ts";
import { LOGIN_PATH } from "./paths.ts";
import { rid } from "./replies.ts";
import type { SimState } from "./state.ts";

const JSON_HEADERS = { "Content-Type": "application/json; encoding=utf-8" };

/** Answers one jscode2session call (HTTP 200 always, like WeChat; errors are `errcode` + `errmsg`). */
export async function login(s: SimState, request: Request, url: URL): Promise<Response> {
  const q = Object.fromEntries(url.searchParams);
  s.record({ method: request.method, path: LOGIN_PATH, query: q, fields: null, raw: request.method === "GET" ? "" : await request.text().catch(() => ""), at: s.now() });
  const fault = takeFault(s, LOGIN_PATH);
  if (fault) {
    s.log(`${request.method} ${LOGIN_PATH} → fault ${fault.fault}`);
    if (fault.fault === "timeout" || fault.fault === "timeout_after") return hang(s, request.signal ?? null);
    const immediate = immediateFault(s, fault, LOGIN_PATH, null);
    if (immediate) return immediate;
    if (fault.fault === "truncated") return new Response(`{"openid":"${s.openidFor("truncated")}","session_`, { status: 200, headers: { "Content-Type": "application/json" } });
  }
  const err = (errcode: number, errmsg: string) => {
    s.log(`${request.method} ${LOGIN_PATH} → errcode ${errcode}`);
    return new Response(JSON.stringify({ errcode, errmsg: `${errmsg}, rid: ${rid()}` }), { status: 200, headers: JSON_HEADERS });
  };
  const appid = q.appid ?? "";
  const secret = q.secret ?? "";
  const code = q.js_code ?? "";
  if (!appid) return err(41002, "appid missing");
  if (!secret) return err(41004, "appsecret missing");
  if (!code) return err(41008, "missing code");
  if (q.grant_type !== "authorization_code") return err(40002, "invalid grant_type");
  if (appid !== s.options.appId) return err(40013, "invalid appid");
  if (!signEquals(s.options.appSecret, secret)) return err(40125, "invalid appsecret");
  if (code.startsWith("bad")) return err(40029, "invalid code");
  if (code.startsWith("ratelimit")) return err(45011, "api minute-quota reach limit, must slower, retry next minute");
  if (code.startsWith("risky")) return err(40226, "code blocked");
  if (code.startsWith("busy")) return err(-1, "system error");
  if (code.length > 128) return err(40029, "invalid code");
  if (s.usedCodes.has(code)) return err(40163, "code been used");
  s.usedCodes.add(code);
  const user = code.split("-")[0] as string;
  const body: Record<string, string> = { session_key: randomBase64(16), openid: s.openidFor(user, appid) };
  if (user.startsWith("union")) body.unionid = "o" + stableTag(`unionid:${user}`);
  s.log(`${request.method} ${LOGIN_PATH} → 200 openid issued`);
  return new Response(JSON.stringify(body), { status: 200, headers: JSON_HEADERS });
}
