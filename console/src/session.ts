/**
 * Who is signed in. GET /admin/session answers `{"actor","via"}` for the token or for a Cloudflare
 * Access login (whose cookie the browser sends by itself). A server without that route (404) is
 * asked with an ordinary admin read instead: a 200 there means the credentials work.
 */
import { ApiProblem, type Api } from "./api";
import type { Session } from "./types";

/**
 * The session for `token` (null: no token, i.e. Cloudflare Access or nobody); null when refused
 * (401/403). Other problems and an unreachable server are thrown.
 */
export async function whoAmI(api: Api, token: string | null): Promise<Session | null> {
  try {
    const { body } = await api.call<Session>("GET", "/admin/session", { token });
    return { actor: String(body.actor), via: body.via === "access" ? "access" : "token" };
  } catch (error) {
    if (error instanceof ApiProblem && (error.status === 401 || error.status === 403)) return null;
    if (!(error instanceof ApiProblem && error.status === 404)) throw error;
  }
  try {
    await api.call("GET", "/admin/orders?limit=1", { token });
    return token ? { actor: "token", via: "token" } : { actor: "", via: "access" };
  } catch (error) {
    if (error instanceof ApiProblem && (error.status === 401 || error.status === 403)) return null;
    throw error;
  }
}
