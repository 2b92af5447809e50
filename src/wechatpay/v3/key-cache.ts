/**
 * Imported CryptoKeys, kept per isolate. importKey costs more than the signature or decryption it
 * serves (an RSA private key import is a DER parse plus precomputation), and a Worker isolate
 * handles many requests with the same few keys, so each key is imported once.
 */

/** A bounded map from a key's source text (PEM or raw secret) to its import in flight or done. */
export class KeyCache {
  readonly #entries = new Map<string, Promise<CryptoKey>>();

  /** @param max Entries before the cache starts over: a deployment has a handful of keys; tests and rotations a few more. */
  constructor(readonly max = 8) {}

  /**
   * The key for `source`, importing it with `load` on first use. Concurrent first uses share one
   * import. A failed import is not kept, so a later call tries again (and fails again, typed, for a
   * bad key).
   */
  get(source: string, load: () => Promise<CryptoKey>): Promise<CryptoKey> {
    let entry = this.#entries.get(source);
    if (entry === undefined) {
      if (this.#entries.size >= this.max) this.#entries.clear();
      entry = Promise.resolve().then(load); // a synchronous throw in load becomes a rejection
      entry.catch(() => this.#entries.delete(source));
      this.#entries.set(source, entry);
    }
    return entry;
  }
}
