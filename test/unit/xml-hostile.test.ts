// Catalogue rows B01, B04, B07, B09-B20 at reader level: every hostile or malformed body makes
// readXml throw an XmlError with the expected code (never a crash, never a partial result), no
// fetch is attempted for DTDs, and no prototype is modified. GBK bytes that happen to be valid UTF-8
// decode to other characters and so fail the signature.
import { afterEach, describe, expect, it, vi } from "vitest";
import xxeFixture from "../fixtures/wechatpay-v2/xxe_doctype_wxjava.xml?raw";
import { verifySign } from "../../src/wechatpay/sign";
import { readXml, writeXml, XmlError, type XmlErrorCode } from "../../src/wechatpay/xml";
import { DOC_KEY, signWechat } from "./helpers";

const code = (input: string | Uint8Array, options?: Parameters<typeof readXml>[1]): XmlErrorCode | "ACCEPTED" => {
  try {
    readXml(input, options);
  } catch (err) {
    if (err instanceof XmlError) return err.code;
    throw err; // anything else is a crash: the test fails loudly
  }
  return "ACCEPTED";
};

const body = (inner: string) => `<xml><return_code>SUCCESS</return_code>${inner}</xml>`;

afterEach(() => vi.restoreAllMocks());

describe("B01/B07: empty and non-XML bodies", () => {
  it("empty, whitespace-only and BOM-only bodies → EMPTY", () => {
    expect(code("")).toBe("EMPTY");
    expect(code(new Uint8Array(0))).toBe("EMPTY");
    expect(code(" \r\n\t")).toBe("EMPTY");
    expect(code(new Uint8Array([0xef, 0xbb, 0xbf]))).toBe("EMPTY");
  });
  it("JSON body → MALFORMED", () => {
    expect(code('{"return_code":"SUCCESS","total_fee":"1"}')).toBe("MALFORMED");
  });
  it("HTML error page → rejected", () => {
    expect(code("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>")).toBe("DTD");
    expect(code("<html><body>502 Bad Gateway</body></html>")).toBe("MALFORMED");
  });
});

describe("B02 (reader level): size cap", () => {
  it("33 KiB → TOO_LARGE before decoding, for bytes and strings", () => {
    const big = body(`<attach>${"a".repeat(33 * 1024)}</attach>`);
    expect(code(big)).toBe("TOO_LARGE");
    expect(code(new TextEncoder().encode(big))).toBe("TOO_LARGE");
    // the cap counts UTF-8 bytes, not UTF-16 code units: 11 000 CJK chars = 33 000 bytes
    expect(code(body(`<attach>${"中".repeat(11_000)}</attach>`))).toBe("TOO_LARGE");
    // and invalid UTF-8 beyond the cap is not even decoded
    expect(code(new Uint8Array(40 * 1024).fill(0xff))).toBe("TOO_LARGE");
  });
});

describe("B04: encodings", () => {
  it("(a) GBK bytes that are invalid UTF-8 (中 = D6 D0) → NOT_UTF8", () => {
    const enc = new TextEncoder();
    const bytes = new Uint8Array([...enc.encode("<xml><body>"), 0xd6, 0xd0, ...enc.encode("</body></xml>")]);
    expect(code(bytes)).toBe("NOT_UTF8");
  });
  it("(b) GBK bytes that are valid UTF-8 (支 = D6 A7) decode to other chars → signature fails", async () => {
    const signed = await signWechat({ return_code: "SUCCESS", out_trade_no: "T1", attach: "支", total_fee: "1" });
    const enc = new TextEncoder();
    const before = writeXml({ return_code: signed.return_code!, out_trade_no: "T1" }).replace("</xml>", "");
    const bytes = new Uint8Array([
      ...enc.encode(`${before}<attach>`),
      0xd6,
      0xa7,
      ...enc.encode(`</attach><total_fee>1</total_fee><sign>${signed.sign}</sign></xml>`),
    ]);
    const fields = readXml(bytes);
    expect(fields.attach).toBe("\u05A7");
    expect(fields.attach).not.toBe("支");
    expect(await verifySign(fields, [DOC_KEY], "MD5")).toBe(false);
    // the same message sent as UTF-8 verifies
    expect(await verifySign(readXml(writeXml(signed)), [DOC_KEY], "MD5")).toBe(true);
  });
  it("a prolog declaring another encoding → NOT_UTF8; lone surrogates → NOT_UTF8", () => {
    expect(code(`<?xml version="1.0" encoding="GBK"?>${body("")}`)).toBe("NOT_UTF8");
    expect(code(body("<a>\uD800</a>"))).toBe("NOT_UTF8");
  });
});

describe("B09-B12: DTDs and entities are refused before parsing", () => {
  it("B09 XXE file entity; no outbound fetch", () => {
    const spy = vi.spyOn(globalThis, "fetch");
    const xxe = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${body("<attach>&xxe;</attach>")}`;
    expect(code(xxe)).toBe("DTD");
    expect(spy).not.toHaveBeenCalled();
  });
  it("WxJava XXE fixture", () => {
    expect(code(xxeFixture)).toBe("DTD");
  });
  it("B10 external DTD", () => {
    const spy = vi.spyOn(globalThis, "fetch");
    expect(code(`<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd">${body("")}`)).toBe("DTD");
    expect(spy).not.toHaveBeenCalled();
  });
  it("B11 parameter entity", () => {
    expect(code(`<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/e.dtd"> %p;]>${body("")}`)).toBe("DTD");
  });
  it("B12 billion laughs", () => {
    const lol = [`<!ENTITY lol "lol">`];
    for (let i = 1; i < 10; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? "" : i - 1};`.repeat(10)}">`);
    const xml = `<?xml version="1.0"?><!DOCTYPE xml [${lol.join("")}]>${body("<attach>&lol9;</attach>")}`;
    // (Workers freeze clocks during CPU work, so "fast" is shown by the pre-parse rejection code.)
    expect(code(xml)).toBe("DTD");
  });
  it("undeclared entity references, comments and processing instructions", () => {
    expect(code(body("<attach>&xxe;</attach>"))).toBe("MALFORMED");
    expect(code(body("<attach>a & b</attach>"))).toBe("MALFORMED");
    expect(code(body("<!-- hello -->"))).toBe("DTD");
    expect(code(body("<?php echo 1; ?>"))).toBe("MALFORMED");
    expect(code(`  <?xml version="1.0"?>${body("")}`)).toBe("MALFORMED");
  });
});

describe("B13/B14: prototype names", () => {
  it("__proto__ and constructor/prototype → FORBIDDEN_NAME, no pollution", () => {
    expect(code(body("<__proto__><polluted>1</polluted></__proto__>"))).toBe("FORBIDDEN_NAME");
    expect(code(body("<__proto__>x</__proto__>"))).toBe("FORBIDDEN_NAME");
    expect(code(body("<constructor><prototype><polluted>1</polluted></prototype></constructor>"))).toBe("FORBIDDEN_NAME");
    expect(code(body("<prototype>1</prototype>"))).toBe("FORBIDDEN_NAME");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });
  it("hasOwnProperty / toString / valueOf → FORBIDDEN_NAME (not a crash)", () => {
    for (const name of ["hasOwnProperty", "toString", "valueOf", "__defineGetter__"]) {
      expect(code(body(`<${name}>1</${name}>`))).toBe("FORBIDDEN_NAME");
    }
  });
});

describe("B15/B16: depth and width", () => {
  const deep = (n: number) => `<xml>${"<a>".repeat(n)}1${"</a>".repeat(n)}</xml>`;
  it("10 000-deep nesting is refused (size cap, and the tag cap when the size cap is raised)", () => {
    expect(code(deep(10_000))).toBe("TOO_LARGE");
    expect(code(deep(10_000), { maxBytes: 1 << 20 })).toBe("TOO_MANY_FIELDS");
  });
  it("shallow nesting → NOT_FLAT", () => {
    expect(code(deep(2))).toBe("NOT_FLAT");
    expect(code(deep(50))).toBe("NOT_FLAT");
  });
  it("500 small tags inside 32 KiB → TOO_MANY_FIELDS", () => {
    const xml = `<xml>${Array.from({ length: 500 }, (_, i) => `<f${i}>1</f${i}>`).join("")}</xml>`;
    expect(new TextEncoder().encode(xml).byteLength).toBeLessThan(32 * 1024);
    expect(code(xml)).toBe("TOO_MANY_FIELDS");
  });
});

describe("B17/B18: duplicates, nesting, mixed content", () => {
  it("duplicate total_fee or sign → DUPLICATE", () => {
    expect(code(body("<total_fee>1</total_fee><total_fee>100</total_fee>"))).toBe("DUPLICATE");
    expect(code(body("<sign>A</sign><sign>B</sign>"))).toBe("DUPLICATE");
    expect(code(body("<sign>A</sign><sign>A</sign>"))).toBe("DUPLICATE");
  });
  it("mixed content and nested <xml> → NOT_FLAT", () => {
    expect(code(body("<total_fee>1<b>2</b></total_fee>"))).toBe("NOT_FLAT");
    expect(code("<xml><xml><total_fee>1</total_fee></xml></xml>")).toBe("NOT_FLAT");
    expect(code("<xml>text<total_fee>1</total_fee></xml>")).toBe("NOT_FLAT");
    expect(code("<xml><![CDATA[x]]><total_fee>1</total_fee></xml>")).toBe("NOT_FLAT");
  });
  it("attributes → MALFORMED", () => {
    expect(code(body('<total_fee currency="USD">1</total_fee>'))).toBe("MALFORMED");
    expect(code('<xml a="1"><b>1</b></xml>')).toBe("MALFORMED");
  });
});

describe("B19: malformed documents", () => {
  it.each([
    ["mismatched tags", "<xml><a>1</b></xml>"],
    ["unclosed child", "<xml><a>1</xml>"],
    ["unclosed root", "<xml><a>1</a>"],
    ["two roots", "<xml><a>1</a></xml><xml><a>2</a></xml>"],
    ["trailing garbage", "<xml><a>1</a></xml>garbage"],
    ["leading garbage", "garbage<xml><a>1</a></xml>"],
    ["truncated", "<xml><return_code><![CDATA[SUCC"],
    ["truncated tag", "<xml><a>1</a></xm"],
    ["bare <", "<xml><a>1 < 2</a></xml>"],
    ["space after <", "<xml>< a>1</a></xml>"],
    ["namespaced name", "<xml><x:a>1</x:a></xml>"],
    ["wrong root", "<doc><a>1</a></doc>"],
    ["]]> in text", "<xml><a>x]]>y</a></xml>"],
    ["invalid char ref", "<xml><a>&#xD800;</a></xml>"],
  ])("%s → MALFORMED", (_label, xml) => {
    expect(code(xml)).toBe("MALFORMED");
  });
});

describe("B20: control characters", () => {
  it.each([
    ["NUL", "\u0000"],
    ["SOH", "\u0001"],
    ["ESC", "\u001b"],
    ["DEL", "\u007f"],
    ["C1 NEL", "\u0085"],
    ["U+FFFF", "\uffff"],
  ])("%s in a value (text or CDATA) → CONTROL_CHAR", (_label, ch) => {
    expect(code(body(`<attach>a${ch}b</attach>`))).toBe("CONTROL_CHAR");
    expect(code(body(`<attach><![CDATA[a${ch}b]]></attach>`))).toBe("CONTROL_CHAR");
  });
  it("control characters smuggled as character references", () => {
    expect(code(body("<attach>&#x7f;</attach>"))).toBe("CONTROL_CHAR");
    expect(code(body("<attach>&#0;</attach>"))).toBe("MALFORMED");
  });
  it("tab, LF and CR are allowed", () => {
    expect(code(body("<attach>a\tb\nc\rd</attach>"))).toBe("ACCEPTED");
  });
});
