// GET /v3/certificates: the platform certificates currently valid, each PEM encrypted with
// AEAD_AES_256_GCM under the APIv3 key (associated_data "certificate"), with serial_no and validity
// (https://pay.weixin.qq.com/doc/v3/partner/4013059030). A merchant in public-key mode has
// none: 404 RESOURCE_NOT_EXISTS, as WeChat answers new merchants
// (https://pay.weixin.qq.com/doc/v3/merchant/4012154180).
import { beijingRfc3339 } from "../time.ts";
import type { V3Call } from "./call.ts";
import { aeadEncrypt, v3Nonce } from "./crypto.ts";
import { ok, v3Error } from "./reply.ts";
import type { V3Reply } from "./reply.ts";

/** GET /v3/certificates (certificate and migrating modes list the certificates; public-key mode has none). */
export function certificates(call: V3Call): V3Reply {
  const v3 = call.s.v3;
  if (v3.mode === "publicKey") return v3Error(404, "RESOURCE_NOT_EXISTS", "无可用的平台证书,请在商户平台-API安全申请使用微信支付公钥。");
  const data = v3.validCertificates(call.s.now()).map((c) => {
    const cert = c.certificate!;
    const nonce = v3Nonce(12);
    return {
      effective_time: beijingRfc3339(cert.notBefore),
      encrypt_certificate: { algorithm: "AEAD_AES_256_GCM", associated_data: "certificate", ciphertext: aeadEncrypt(v3.apiV3Key, nonce, "certificate", cert.pem), nonce },
      expire_time: beijingRfc3339(cert.notAfter),
      serial_no: c.serial,
    };
  });
  return ok({ data });
}
