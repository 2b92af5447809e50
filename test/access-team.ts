/**
 * A stand-in for Cloudflare Access in the workerd tests: the certs endpoint of test teams
 * (`https://<team>.cloudflareaccess.test/cdn-cgi/access/certs`, the path Access publishes its JWKS on),
 * which vitest.config.ts routes the Worker's outbound fetches to, and a control surface (the
 * ACCESS_TEAM service binding) from which the tests take the private keys to sign with.
 *
 * The RSA keys are generated once per test run (node:crypto), so no private key is ever committed.
 * `primary` is published from the start; `rotated` only after POST /rotate (a key rotation); `stranger`
 * never. The team `down` answers 503, as an outage would.
 */
import { generateKeyPairSync, type JsonWebKey } from "node:crypto";

/** The host suffix of the test teams; production is always `<team>.cloudflareaccess.com`. */
export const ACCESS_TEST_SUFFIX = ".cloudflareaccess.test";
const CERTS_PATH = "/cdn-cgi/access/certs";

const newKey = (kid: string) => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    kid,
    publicJwk: { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" } as JsonWebKey,
    privateJwk: { ...privateKey.export({ format: "jwk" }), kid, alg: "RS256" } as JsonWebKey,
  };
};

export function createAccessTeam() {
  const keys = { primary: newKey("test-primary"), rotated: newKey("test-rotated"), stranger: newKey("test-stranger") };
  let rotated = false;
  const fetches = new Map<string, number>();
  const json = (value: unknown, status = 200) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
  return {
    /** The teams' certs endpoints, as the Worker's fetch reaches them. */
    fetch(request: Request): Response {
      const url = new URL(request.url);
      fetches.set(url.host, (fetches.get(url.host) ?? 0) + 1);
      if (url.pathname !== CERTS_PATH) return new Response("not found", { status: 404 });
      if (url.host === `down${ACCESS_TEST_SUFFIX}`) return new Response("service unavailable", { status: 503 });
      const published = rotated ? [keys.primary, keys.rotated] : [keys.primary];
      // The shape Access serves: `keys` (JWKs) plus the same keys as PEM certificates, which we ignore.
      return json({ keys: published.map((k) => k.publicJwk), public_cert: { kid: keys.primary.kid, cert: "(not used)" } });
    },
    /** Test control: GET /keys (private JWKs), GET /fetches?host=, POST /rotate, POST /reset. */
    async control(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const route = `${request.method} ${url.pathname}`;
      if (route === "GET /keys") return json({ primary: keys.primary.privateJwk, rotated: keys.rotated.privateJwk, stranger: keys.stranger.privateJwk });
      if (route === "GET /fetches") return json({ count: fetches.get(url.searchParams.get("host") ?? "") ?? 0 });
      if (route === "POST /rotate") {
        rotated = true;
        return json({ ok: true });
      }
      if (route === "POST /reset") {
        rotated = false;
        return json({ ok: true });
      }
      return new Response("not found", { status: 404 });
    },
  };
}
