/**
 * A small, strict DER reader: just enough of X.509 (RFC 5280 §4.1) to take a WeChat Pay platform
 * certificate apart into its serial number, validity and SubjectPublicKeyInfo.
 *
 * Why not an X.509 library: Web Crypto cannot import a certificate (workerd answers "Invalid SPKI
 * input"), only the SPKI inside it, and the libraries that parse X.509 on the web (@peculiar/x509,
 * pkijs) weigh 50–90 KiB gzipped, more than this whole Worker's budget. Reading five fields of a
 * certificate is a few dozen lines.
 *
 * Every read is bounds-checked: truncated or garbage input raises DerError, never a RangeError or
 * an `undefined` from reading past the end. Nothing here checks the certificate's signature or
 * chain; callers trust a certificate because it came through a channel they already trust (a
 * verified, APIv3-key-decrypted /v3/certificates response).
 */
import { bytesToHex } from "./encoding";

/** Raised for any input that is not the DER structure expected; the message names what was wrong. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** One DER element: its tag, and where its contents and its whole encoding lie in the buffer. */
export interface Tlv {
  tag: number;
  /** Offset of the first byte of the tag. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the last content byte. */
  end: number;
}

/** Tags used below (universal class; 0xa0 is the context-specific constructed [0]). */
export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  CONTEXT_0: 0xa0,
} as const;

/**
 * Reads the element at `offset`, which must end at or before `limit`. Only definite lengths of up
 * to 4 length bytes (DER never uses the indefinite form; certificates are far below 4 GiB).
 */
export function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
  if (offset + 2 > limit) throw new DerError("truncated element header");
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  const first = der[offset + 1]!;
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0) throw new DerError("indefinite length is not DER");
    if (count > 4) throw new DerError("length too large");
    if (contentStart + count > limit) throw new DerError("truncated length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError("element runs past its container");
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside a constructed element, which must fill it exactly. */
export function readChildren(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** `element` if it has the expected tag, else DerError naming `what`. */
function expectTag(element: Tlv | undefined, tag: number, what: string): Tlv {
  if (element === undefined) throw new DerError(`missing ${what}`);
  if (element.tag !== tag) throw new DerError(`${what}: unexpected tag 0x${element.tag.toString(16)}`);
  return element;
}

/** What this service reads from a certificate. */
export interface CertificateFields {
  /** The serial number as WeChat prints it (`Wechatpay-Serial`, `serial_no`): upper-case hex, no sign byte. */
  serialHex: string;
  /** The DER SubjectPublicKeyInfo, ready for `crypto.subtle.importKey("spki", …)`. */
  spki: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Reads a DER X.509 certificate: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signatureValue } with tbsCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
 * signature, issuer, validity, subject, subjectPublicKeyInfo, … }. The outer SEQUENCE must span
 * the whole input. Throws DerError for anything else.
 */
export function readCertificate(der: Uint8Array): CertificateFields {
  if (!(der instanceof Uint8Array)) throw new DerError("certificate must be bytes");
  const cert = expectTag(readTlv(der, 0), TAG.SEQUENCE, "Certificate");
  if (cert.end !== der.length) throw new DerError("trailing bytes after the certificate");
  const [tbsElement, algorithm, signature] = readChildren(der, cert);
  const tbs = expectTag(tbsElement, TAG.SEQUENCE, "tbsCertificate");
  expectTag(algorithm, TAG.SEQUENCE, "signatureAlgorithm");
  expectTag(signature, TAG.BIT_STRING, "signatureValue");

  let fields = readChildren(der, tbs);
  if (fields[0]?.tag === TAG.CONTEXT_0) fields = fields.slice(1); // explicit version (v3 certificates have it)
  const [serial, , issuer, validity, subject, spki] = fields;
  expectTag(serial, TAG.INTEGER, "serialNumber");
  expectTag(fields[1], TAG.SEQUENCE, "signature algorithm");
  expectTag(issuer, TAG.SEQUENCE, "issuer");
  expectTag(validity, TAG.SEQUENCE, "validity");
  expectTag(subject, TAG.SEQUENCE, "subject");
  const key = expectTag(spki, TAG.SEQUENCE, "subjectPublicKeyInfo");
  const [keyAlgorithm, keyBits] = readChildren(der, key);
  expectTag(keyAlgorithm, TAG.SEQUENCE, "subjectPublicKeyInfo algorithm");
  expectTag(keyBits, TAG.BIT_STRING, "subjectPublicKey");

  const times = readChildren(der, validity!);
  if (times.length !== 2) throw new DerError("validity must hold two times");
  return {
    serialHex: serialToHex(der.subarray(serial!.contentStart, serial!.end)),
    spki: der.slice(key.start, key.end),
    notBefore: readTime(der, times[0]!),
    notAfter: readTime(der, times[1]!),
  };
}

/**
 * INTEGER contents → upper-case hex. DER prefixes a 00 byte when the top bit of a positive number
 * is set (D7CE…, 898D…): that sign byte is not part of the serial WeChat prints.
 */
function serialToHex(content: Uint8Array): string {
  if (content.length === 0) throw new DerError("empty serialNumber");
  const digits = content.length > 1 && content[0] === 0 && content[1]! >= 0x80 ? content.subarray(1) : content;
  return bytesToHex(digits, true);
}

/**
 * UTCTime `YYMMDDHHMMSSZ` (years 1950–2049, RFC 5280 §4.1.2.5.1) or GeneralizedTime
 * `YYYYMMDDHHMMSSZ` (from 2050; one of the vectors' certificates runs to 2294). Only the Z forms
 * RFC 5280 allows; an impossible date (Feb 30, hour 24) is refused rather than rolled over.
 */
function readTime(der: Uint8Array, element: Tlv): Date {
  let text = "";
  for (let i = element.contentStart; i < element.end; i++) text += String.fromCharCode(der[i]!);
  let m: RegExpExecArray | null;
  let year: number;
  if (element.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (element.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    year = Number(m[1]);
  } else {
    throw new DerError("validity time is not a UTCTime or GeneralizedTime in Z form");
  }
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day ||
    date.getUTCHours() !== hour || date.getUTCMinutes() !== minute || date.getUTCSeconds() !== second
  ) {
    throw new DerError("validity time is not a real date");
  }
  return date;
}
