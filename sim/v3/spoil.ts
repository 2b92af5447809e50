// Spoiled signature headers, for responses (faults) and callbacks (the notify control): what a merchant's
// verifier must refuse without crashing. A WECHATPAY/SIGNTEST/ probe is what WeChat itself sends now and
// then to check that merchants verify (https://pay.weixin.qq.com/doc/v3/merchant/4013053420).
import { randomBytes } from "node:crypto";

/** The signature-header spoils a response or a callback can carry. */
export const HEADER_SPOILS = ["probe", "unknown_serial", "bad_sign", "unsigned"] as const;
export type HeaderSpoil = (typeof HEADER_SPOILS)[number];

/** A public key id and a certificate serial the simulator never configures (the former as in the vendored vectors). */
export const UNKNOWN_PUBLIC_KEY_ID = "PUB_KEY_ID_0199999999999999999999999999999999";
export const UNKNOWN_CERTIFICATE_SERIAL = "7E57000000000000000000000000000000000001";

/** A signature-probe value: the WECHATPAY/SIGNTEST/ prefix and random base64 (not a signature of anything). */
export function probeSignature(): string {
  return "WECHATPAY/SIGNTEST/" + randomBytes(252).toString("base64");
}

/** A valid-looking signature that does not verify: the first base64 character changed. */
function flippedSignature(signature: string): string {
  return (signature[0] === "A" ? "B" : "A") + signature.slice(1);
}

/**
 * Spoils signed headers: a probe signature; a serial the merchant cannot know (the signature itself stays
 * genuine, so only a verifier that picks its key by Wechatpay-Serial refuses it); an altered signature;
 * or no signature headers at all.
 */
export function spoilHeaders(headers: Record<string, string>, spoil: HeaderSpoil): Record<string, string> {
  const h = { ...headers };
  switch (spoil) {
    case "probe":
      h["Wechatpay-Signature"] = probeSignature();
      return h;
    case "unknown_serial":
      h["Wechatpay-Serial"] = (h["Wechatpay-Serial"] ?? "").startsWith("PUB_KEY_ID_") ? UNKNOWN_PUBLIC_KEY_ID : UNKNOWN_CERTIFICATE_SERIAL;
      return h;
    case "bad_sign":
      h["Wechatpay-Signature"] = flippedSignature(h["Wechatpay-Signature"] ?? "");
      return h;
    case "unsigned":
      for (const k of Object.keys(h)) if (k.startsWith("Wechatpay-")) delete h[k];
      return h;
  }
}
