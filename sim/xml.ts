// A small, strict reader and writer for WeChat's flat XML (the <xml> bodies of the Pay API v2).
// Reader: one root element (<xml> by default), children are flat scalars (text and/or CDATA),
// no attributes, no nesting, no duplicates, no DOCTYPE/ENTITY/comments/processing instructions
// (an optional leading <?xml ...?> declaration and a BOM are allowed). Values are returned exactly as
// written (entities decoded, no trimming).

export class XmlError extends Error {
  override name = "XmlError";
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const FORBIDDEN_NAMES = new Set(["__proto__", "constructor", "prototype"]);
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&([^;&]{0,12});?/g, (m, body: string) => {
    if (!m.endsWith(";")) throw new XmlError("bare '&' in text");
    switch (body) {
      case "lt": return "<";
      case "gt": return ">";
      case "amp": return "&";
      case "quot": return "\"";
      case "apos": return "'";
    }
    let cp: number | undefined;
    if (/^#[0-9]{1,7}$/.test(body)) cp = Number(body.slice(1));
    else if (/^#x[0-9A-Fa-f]{1,6}$/.test(body)) cp = parseInt(body.slice(2), 16);
    if (cp === undefined || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new XmlError(`unknown entity &${body};`);
    const ch = String.fromCodePoint(cp);
    if (BAD_CHARS.test(ch)) throw new XmlError("control character reference");
    return ch;
  });
}

export interface ParseOptions {
  /** accepted root element names; default ["xml"] */
  roots?: string[];
  /** maximum number of child elements; default 200 */
  maxFields?: number;
}

/** Parse a flat XML document into field → exact string value. Throws XmlError on anything unusual. */
export function parseFlatXml(input: string, opts: ParseOptions = {}): Record<string, string> {
  const roots = opts.roots ?? ["xml"];
  const maxFields = opts.maxFields ?? 200;
  let s = input;
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (/<!DOCTYPE|<!ENTITY/i.test(s)) throw new XmlError("DOCTYPE/ENTITY not allowed");
  if (BAD_CHARS.test(s)) throw new XmlError("control character in document");
  let i = 0;
  const ws = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) i++;
  };
  ws();
  if (s.startsWith("<?xml", i)) {
    const end = s.indexOf("?>", i);
    if (end < 0) throw new XmlError("unterminated XML declaration");
    const decl = s.slice(i, end);
    const enc = /encoding\s*=\s*["']([^"']*)["']/i.exec(decl);
    if (enc && !/^utf-?8$/i.test(enc[1] ?? "")) throw new XmlError("only UTF-8 is accepted");
    i = end + 2;
    ws();
  }
  const openRoot = /^<([A-Za-z_][A-Za-z0-9_.-]*)>/.exec(s.slice(i, i + 64));
  if (!openRoot) throw new XmlError("missing root element");
  const root = openRoot[1] as string;
  if (!roots.includes(root)) throw new XmlError(`unexpected root <${root}>`);
  i += openRoot[0].length;
  const out = new Map<string, string>();
  for (;;) {
    ws();
    if (i >= s.length) throw new XmlError(`unclosed <${root}>`);
    if (s.startsWith(`</${root}>`, i)) {
      i += root.length + 3;
      break;
    }
    if (s[i] !== "<") throw new XmlError("text directly inside the root element");
    const open = /^<([^\s<>/!?]+)(\/?)>/.exec(s.slice(i, i + 200));
    if (!open) throw new XmlError("malformed element (attributes, comments and PIs are not allowed)");
    const name = open[1] as string;
    if (!NAME.test(name) || FORBIDDEN_NAMES.has(name) || name === root) throw new XmlError(`invalid element name ${JSON.stringify(name)}`);
    if (out.has(name)) throw new XmlError(`duplicate element <${name}>`);
    if (out.size >= maxFields) throw new XmlError("too many elements");
    i += open[0].length;
    if (open[2] === "/") {
      out.set(name, "");
      continue;
    }
    let value = "";
    for (;;) {
      if (i >= s.length) throw new XmlError(`unclosed <${name}>`);
      if (s.startsWith("<![CDATA[", i)) {
        const end = s.indexOf("]]>", i + 9);
        if (end < 0) throw new XmlError("unterminated CDATA");
        value += s.slice(i + 9, end);
        i = end + 3;
        continue;
      }
      if (s.startsWith(`</${name}>`, i)) {
        i += name.length + 3;
        break;
      }
      if (s[i] === "<") throw new XmlError(`nested or mismatched element inside <${name}>`);
      const next = s.indexOf("<", i);
      if (next < 0) throw new XmlError(`unclosed <${name}>`);
      const text = s.slice(i, next);
      if (text.includes("]]>")) throw new XmlError("']]>' in text");
      value += decodeEntities(text);
      i = next;
    }
    out.set(name, value);
  }
  ws();
  if (i !== s.length) throw new XmlError("content after the root element");
  return Object.fromEntries(out);
}

const NUMERIC_FIELD =
  /^(total_fee|cash_fee|refund_fee|settlement_total_fee|settlement_refund_fee|cash_refund_fee|coupon_fee|coupon_count|refund_count|total_refund_count|coupon_refund_fee|coupon_refund_count)(_\d+)*$/;

function cdata(v: string): string {
  return `<![CDATA[${v.split("]]>").join("]]]]><![CDATA[>")}]]>`;
}

export function escapeText(v: string): string {
  return v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Build `<xml>…</xml>` like WeChat does: integer amount/count fields as plain text, everything else in
 * CDATA. `plain` lists extra fields to write as plain (escaped) text (e.g. the refund notify return_code).
 */
export function buildXml(
  fields: Record<string, string | undefined>,
  opts: { root?: string; plain?: string[]; allCdata?: boolean; newline?: boolean } = {},
): string {
  const root = opts.root ?? "xml";
  const nl = opts.newline ? "\n" : "";
  let x = `<${root}>${nl}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const plain = (opts.plain?.includes(k) ?? false) || (!opts.allCdata && NUMERIC_FIELD.test(k) && /^-?\d+$/.test(v));
    x += `<${k}>${plain ? escapeText(v) : cdata(v)}</${k}>${nl}`;
  }
  return x + `</${root}>`;
}
