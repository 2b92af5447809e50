// The workerd test project uses Node's crypto (nodejs_compat) as an independent signer; the workers
// types do not describe node: modules, so declare the two functions the test oracle (test/oracle.ts) uses.
declare module "node:crypto" {
  interface Hash {
    update(data: string, encoding?: "utf8"): Hash;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "md5" | "sha256"): Hash;
  export function createHmac(algorithm: "sha256", key: string): Hash;
}
