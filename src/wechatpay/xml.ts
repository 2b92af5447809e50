/**
 * The ONE hardened reader for XML from outside (notifications, WeChat replies, refund-notify
 * plaintext) and the writer for what we send (rule 2 in docs/ARCHITECTURE.md).
 *
 * Approach: fast-xml-parser (>= 5.12, the project's chosen XML library) does the XML work, fenced by our own checks for the
 * tiny profile WeChat v2 uses (one root, flat scalar children, text or CDATA):
 *   1. byte cap before decoding, strict UTF-8, optional BOM and `<?xml ...?>` prolog;
 *   2. a cheap string pre-scan that rejects `<!` other than CDATA (DOCTYPE, ENTITY, comments),
 *      processing instructions, control characters, forbidden/odd names and too many tags, so
 *      XXE, billion laughs and 10 000-deep nesting die before any parser sees them;
 *   3. XMLValidator for well-formedness (mismatched/unclosed tags, two roots, trailing garbage),
 *      because XMLParser on its own is lenient about those;
 *   4. XMLParser with preserveOrder (so duplicates and mixed content stay visible), no entity or
 *      value processing, no trimming; then a structural post-check builds a null-prototype object.
 * A hand-written scanner would be about as long; using the chosen library keeps one
 * implementation of XML lexing in the codebase, and every WeChat-specific rule lives here.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { Fields } from "./sign";

/** Size cap for any XML body from outside, checked on bytes before decoding. */
export const MAX_XML_BYTES = 32 * 1024;

/** Why an XML document was refused. Codes are stable; messages never echo the input. */
export type XmlErrorCode =
  | "TOO_LARGE"
  | "EMPTY"
  | "NOT_UTF8"
  | "DTD"
  | "MALFORMED"
  | "NOT_FLAT"
  | "DUPLICATE"
  | "FORBIDDEN_NAME"
  | "TOO_MANY_FIELDS"
  | "CONTROL_CHAR";

/** Thrown by {@link readXml} (and {@link writeXml} for unwritable input). */
export class XmlError extends Error {
  /** Machine-readable reason; safe to log. */
  readonly code: XmlErrorCode;
  constructor(code: XmlErrorCode, message: string) {
    super(message);
    this.name = "XmlError";
    this.code = code;
  }
}

/** Options for {@link readXml}. */
export interface ReadXmlOptions {
  /** Byte cap, default {@link MAX_XML_BYTES}. */
  maxBytes?: number;
  /** Expected root element, default `"xml"`; the refund-notify plaintext uses `"root"`. */
  root?: string;
  /** Maximum number of child fields, default 100. */
  maxFields?: number;
}

const DEFAULT_MAX_FIELDS = 100;

/** Field names we accept and write: WeChat's snake_case names (plus the odd camelCase). */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Names that are Object.prototype members: as keys they enable prototype pollution or shadow methods
 * callers may rely on. WeChat never uses them, so a message carrying one is hostile.
 */
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toString",
  "toLocaleString",
  "valueOf",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
]);

/**
 * C0 controls except TAB/LF/CR, DEL, C1 controls, and the noncharacters U+FFFE/U+FFFF. None can occur
 * in a genuine WeChat value; NUL in particular truncates strings in some downstream systems.
 * U+FFFF being banned from input is also what makes the CR mask below safe.
 */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * `<?xml version="1.x" encoding="..." standalone="..."?>` exactly at the start. Anything looser
 * (other pseudo-attributes, leading whitespace) is refused: WeChat either sends this or nothing.
 */
const PROLOG =
  /^<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1(?:\s+encoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:\s+standalone\s*=\s*(["'])(?:yes|no)\4)?\s*\?>/;

const CDATA_SECTION = /<!\[CDATA\[[\s\S]*?\]\]>/g;
const TAG_START = /<(\/?)([^\s>/]*)/g;

/** XML's whitespace; U+FFFF stands for a masked CR (see CR_MASK). */
const BLANK = /^[ \t\n\r\uFFFF]*$/;

/**
 * XMLParser normalises CR and CRLF to LF inside values (XML 1.0 §2.11), but signatures are computed
 * over the exact bytes WeChat signed, so CRs are masked with U+FFFF (banned from input, see CONTROL)
 * while parsing and restored afterwards. Validation still runs on the original text.
 */
const CR_MASK = "\uFFFF";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }); // strips one leading BOM by default
const encoder = new TextEncoder();

const parser = new XMLParser({
  preserveOrder: true, // keeps duplicates and mixed content visible instead of merged
  ignoreAttributes: false, // surface attributes so we can refuse them
  parseTagValue: false, // every value stays the exact string (no "0088" -> 88)
  parseAttributeValue: false,
  processEntities: false, // no DTD entities ever; the five predefined ones are decoded below
  htmlEntities: false,
  trimValues: false, // signatures cover leading/trailing spaces too
  cdataPropName: "#cdata", // distinguishes CDATA (raw) from text (entity-decoded)
  commentPropName: false,
  ignoreDeclaration: false,
  ignorePiTags: false,
});

/** Turns the caller's input into text, enforcing the byte cap before any decoding work. */
function decodeInput(input: string | ArrayBuffer | Uint8Array, maxBytes: number): string {
  if (typeof input === "string") {
    // Every code unit is at least one UTF-8 byte, so this bound avoids encoding a huge string.
    if (input.length > maxBytes) throw new XmlError("TOO_LARGE", "XML body too large");
    if (LONE_SURROGATE.test(input)) throw new XmlError("NOT_UTF8", "XML body is not valid UTF-8");
    if (encoder.encode(input).byteLength > maxBytes) throw new XmlError("TOO_LARGE", "XML body too large");
    return input.startsWith("\uFEFF") ? input.slice(1) : input;
  }
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.byteLength > maxBytes) throw new XmlError("TOO_LARGE", "XML body too large");
  try {
    return decoder.decode(bytes);
  } catch {
    throw new XmlError("NOT_UTF8", "XML body is not valid UTF-8");
  }
}

/** Removes an allowed prolog; refuses a prolog that declares a non-UTF-8 encoding. */
function stripProlog(text: string): string {
  const m = PROLOG.exec(text);
  if (m) {
    const encoding = m[3];
    if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
      throw new XmlError("NOT_UTF8", "XML declares a non-UTF-8 encoding");
    }
    return text.slice(m[0].length);
  }
  if (/^\s*<\?/.test(text)) throw new XmlError("MALFORMED", "unsupported XML declaration");
  return text;
}

/** The cheap pre-parse fence: everything here is linear in the input and allocation-light. */
function preScan(body: string, maxFields: number): void {
  if (/<!(?!\[CDATA\[)/.test(body)) {
    throw new XmlError("DTD", "DOCTYPE, ENTITY, comments and other declarations are not allowed");
  }
  if (body.includes("<?")) throw new XmlError("MALFORMED", "processing instructions are not allowed");
  if (CONTROL.test(body)) throw new XmlError("CONTROL_CHAR", "control characters are not allowed");

  const outsideCdata = body.replace(CDATA_SECTION, "");
  if (outsideCdata.includes("<![CDATA[")) throw new XmlError("MALFORMED", "unterminated CDATA section");
  let opened = 0;
  for (const m of outsideCdata.matchAll(TAG_START)) {
    const name = m[2] ?? "";
    if (FORBIDDEN_NAMES.has(name)) throw new XmlError("FORBIDDEN_NAME", "forbidden element name");
    if (!NAME.test(name)) throw new XmlError("MALFORMED", "invalid element name");
    if (m[1] === "") {
      opened++;
      // root + maxFields children; stopping here bounds the work on deep or wide documents.
      if (opened > maxFields + 1) throw new XmlError("TOO_MANY_FIELDS", "too many elements");
    }
  }
}

/** Decodes the five predefined entities and character references in a text (non-CDATA) segment. */
function decodeText(text: string): string {
  if (text.includes("]]>")) throw new XmlError("MALFORMED", "']]>' is not allowed in text");
  if (/&(?!(?:#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);)/.test(text)) {
    throw new XmlError("MALFORMED", "undefined entity or bare '&'");
  }
  return text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (_all, ref: string) => {
    switch (ref) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    const cp = ref.startsWith("#x") ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    const allowed =
      cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    if (!allowed) throw new XmlError("MALFORMED", "invalid character reference");
    const ch = String.fromCodePoint(cp);
    if (CONTROL.test(ch)) throw new XmlError("CONTROL_CHAR", "control characters are not allowed");
    return ch;
  });
}

type OrderedNode = Record<string, unknown>;

/** The single element name of a preserveOrder node, and whether it carries attributes. */
function nodeName(node: OrderedNode): { name: string; hasAttributes: boolean } {
  let name = "";
  let hasAttributes = false;
  for (const key of Object.keys(node)) {
    if (key === ":@") hasAttributes = true;
    else name = key;
  }
  return { name, hasAttributes };
}

/** Concatenates the text and CDATA pieces of one field; anything else means nesting. */
function fieldValue(children: unknown): string {
  if (!Array.isArray(children)) throw new XmlError("MALFORMED", "unexpected parser output");
  let value = "";
  for (const child of children as OrderedNode[]) {
    const { name } = nodeName(child);
    if (name === "#text") {
      value += decodeText(String(child["#text"]));
    } else if (name === "#cdata") {
      const parts = child["#cdata"];
      if (!Array.isArray(parts)) throw new XmlError("MALFORMED", "unexpected parser output");
      for (const part of parts as OrderedNode[]) value += String(part["#text"] ?? "");
    } else {
      throw new XmlError("NOT_FLAT", "nested elements are not allowed");
    }
  }
  return value.split(CR_MASK).join("\r");
}

/**
 * Reads one flat WeChat v2 XML document into {@link Fields}. Throws {@link XmlError} for anything
 * outside the profile: too large, empty, not UTF-8, DTD/entities, malformed, nested or mixed
 * content, duplicate or forbidden names, attributes, too many fields, control characters.
 * Values are the exact strings (text entity-decoded, CDATA raw, no trimming); the result has a null
 * prototype, so no name can reach Object.prototype.
 */
export function readXml(input: string | ArrayBuffer | Uint8Array, options: ReadXmlOptions = {}): Fields {
  const maxBytes = options.maxBytes ?? MAX_XML_BYTES;
  const root = options.root ?? "xml";
  const maxFields = options.maxFields ?? DEFAULT_MAX_FIELDS;

  const text = decodeInput(input, maxBytes);
  if (BLANK.test(text)) throw new XmlError("EMPTY", "XML body is empty");
  const body = stripProlog(text).replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
  if (body === "") throw new XmlError("MALFORMED", "no root element");

  preScan(body, maxFields);

  let valid: ReturnType<typeof XMLValidator.validate>;
  try {
    valid = XMLValidator.validate(body, { allowBooleanAttributes: false });
  } catch {
    throw new XmlError("MALFORMED", "XML is not well-formed");
  }
  if (valid !== true) throw new XmlError("MALFORMED", `XML is not well-formed (${valid.err.code})`);

  let doc: unknown;
  try {
    doc = parser.parse(body.replaceAll("\r", CR_MASK));
  } catch {
    throw new XmlError("MALFORMED", "XML could not be parsed");
  }
  if (!Array.isArray(doc)) throw new XmlError("MALFORMED", "unexpected parser output");

  const elements = (doc as OrderedNode[]).filter((node) => {
    const { name } = nodeName(node);
    if (name === "#text" && BLANK.test(String(node["#text"]))) return false;
    return true;
  });
  const top = elements[0];
  if (elements.length !== 1 || top === undefined) throw new XmlError("MALFORMED", "expected exactly one root element");
  const rootInfo = nodeName(top);
  if (rootInfo.name !== root) throw new XmlError("MALFORMED", `root element must be <${root}>`);
  if (rootInfo.hasAttributes) throw new XmlError("MALFORMED", "attributes are not allowed");

  const children = top[root];
  if (!Array.isArray(children)) throw new XmlError("MALFORMED", "unexpected parser output");
  const fields = Object.create(null) as Fields;
  let count = 0;
  for (const child of children as OrderedNode[]) {
    const { name, hasAttributes } = nodeName(child);
    if (name === "#text") {
      if (BLANK.test(String(child["#text"]))) continue; // indentation between fields
      throw new XmlError("NOT_FLAT", "text directly inside the root is not allowed");
    }
    if (name === "#cdata") throw new XmlError("NOT_FLAT", "CDATA directly inside the root is not allowed");
    if (FORBIDDEN_NAMES.has(name)) throw new XmlError("FORBIDDEN_NAME", "forbidden element name");
    if (!NAME.test(name)) throw new XmlError("MALFORMED", "invalid element name");
    if (hasAttributes) throw new XmlError("MALFORMED", "attributes are not allowed");
    if (Object.prototype.hasOwnProperty.call(fields, name)) {
      // Never first-wins or last-wins: two different readers would then disagree on the value.
      throw new XmlError("DUPLICATE", "duplicate field");
    }
    if (++count > maxFields) throw new XmlError("TOO_MANY_FIELDS", "too many fields");
    fields[name] = fieldValue(child[name]);
  }
  return fields;
}

/** Wraps a value in CDATA, splitting any `]]>` across two sections so it cannot close early. */
function cdata(value: string): string {
  return `<![CDATA[${value.split("]]>").join("]]]]><![CDATA[>")}]]>`;
}

/**
 * Writes flat fields as `<root><name><![CDATA[value]]></name>...</root>` in insertion order. Every
 * value goes in CDATA (so `<`, `&` and JSON strings travel untouched); names must be
 * `[A-Za-z_][A-Za-z0-9_]*` and values free of control characters, else {@link XmlError}, because
 * anything else would produce a document our own reader (and WeChat) refuses.
 */
export function writeXml(fields: Fields, root = "xml"): string {
  if (!NAME.test(root)) throw new XmlError("FORBIDDEN_NAME", "invalid root element name");
  let out = `<${root}>`;
  for (const name of Object.keys(fields)) {
    if (!NAME.test(name) || FORBIDDEN_NAMES.has(name)) throw new XmlError("FORBIDDEN_NAME", "invalid field name");
    const value: unknown = fields[name];
    if (typeof value !== "string") throw new TypeError("XML field values must be strings");
    if (CONTROL.test(value)) throw new XmlError("CONTROL_CHAR", "control characters are not allowed");
    out += `<${name}>${cdata(value)}</${name}>`;
  }
  return `${out}</${root}>`;
}

/** The acknowledgement WeChat expects from a notify handler (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7), byte for byte. */
export const ACK_XML =
  "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

/**
 * The refusal with the same shape as {@link ACK_XML}. Never throws: control characters in the
 * message are dropped, since a refusal must always be sendable.
 */
export function failXml(message: string): string {
  const safe = String(message).replace(new RegExp(CONTROL.source, "g"), "");
  return writeXml({ return_code: "FAIL", return_msg: safe });
}
