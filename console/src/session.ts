/**
 * Who is signed in: GET /admin/session answers `{"actor","via"}` for the admin token, or for a
 * Cloudflare Access login (Access adds its token to every request it lets through; the console sends
 * no bearer then).
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
    throw error;
  }
}
