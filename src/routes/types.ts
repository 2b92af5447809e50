/** The Hono environment shared by all routes. */
import type { Config } from "../config";
import type { Deps } from "../orders/deps";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    deps: Deps;
    /** Set by requireAdmin (routes/admin-auth.ts): "token" or the Cloudflare Access identity, and how it signed in. */
    actor: string;
    authVia: "token" | "access";
    /** Set by requireUser. */
    userId: string;
    openid: string;
  };
}
