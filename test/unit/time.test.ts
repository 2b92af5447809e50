// Proves Beijing time (UTC+8) formatting/parsing is independent of the machine zone and correct at
// UTC day, month and year boundaries, and that parsers refuse impossible or loosely formatted times.
import { describe, expect, it } from "vitest";
import {
  beijingDate,
  beijingTimestamp,
  parseBeijingDate,
  parseBeijingDateTime,
  parseBeijingTimestamp,
  parseRfc3339,
} from "../../src/wechatpay/time";

describe("formatting", () => {
  it("UTC 15:59:59 is still the same Beijing day; 16:00:00 is the next", () => {
    expect(beijingTimestamp(new Date("2024-03-10T15:59:59Z"))).toBe("20240310235959");
    expect(beijingTimestamp(new Date("2024-03-10T16:00:00Z"))).toBe("20240311000000");
    expect(beijingDate(new Date("2024-03-10T15:59:59Z"))).toBe("20240310");
    expect(beijingDate(new Date("2024-03-10T16:00:00Z"))).toBe("20240311");
  });
  it("crosses month, leap-day and year boundaries", () => {
    expect(beijingTimestamp(new Date("2023-12-31T16:00:00Z"))).toBe("20240101000000");
    expect(beijingTimestamp(new Date("2024-02-28T16:30:05Z"))).toBe("20240229003005");
    expect(beijingTimestamp(new Date("2014-10-30T05:35:25Z"))).toBe("20141030133525");
  });
  it("refuses an invalid Date", () => {
    expect(() => beijingTimestamp(new Date(NaN))).toThrow(RangeError);
  });
});

describe("parsing", () => {
  it("parseBeijingTimestamp inverts beijingTimestamp", () => {
    expect(parseBeijingTimestamp("20240311000000").toISOString()).toBe("2024-03-10T16:00:00.000Z");
    expect(parseBeijingTimestamp("20141030133525").toISOString()).toBe("2014-10-30T05:35:25.000Z");
    const now = new Date("2025-06-01T12:34:56Z");
    expect(parseBeijingTimestamp(beijingTimestamp(now)).getTime()).toBe(now.getTime());
  });
  it("parseBeijingDateTime reads refund success_time / bill times", () => {
    expect(parseBeijingDateTime("2017-12-15 09:46:01").toISOString()).toBe("2017-12-15T01:46:01.000Z");
    expect(parseBeijingDateTime("2020-01-04 00:34:24").toISOString()).toBe("2020-01-03T16:34:24.000Z");
  });
  it("parseBeijingDate is Beijing midnight", () => {
    expect(parseBeijingDate("20141110").toISOString()).toBe("2014-11-09T16:00:00.000Z");
  });
  it.each(["2024031100000", "202403110000000", "20240230120000", "20241301000000", "20240311240000", "2024031100006 0", "2024-03-11 00:00", "", "abcdefghijklmn", "20240311006000"])(
    "parseBeijingTimestamp(%j) throws",
    (bad) => {
      expect(() => parseBeijingTimestamp(bad)).toThrow(RangeError);
    },
  );
  it.each(["2017-12-15T09:46:01", "2017-12-15 9:46:01", "2017-02-30 00:00:00", " 2017-12-15 09:46:01", "2017/12/15 09:46:01"])(
    "parseBeijingDateTime(%j) throws",
    (bad) => {
      expect(() => parseBeijingDateTime(bad)).toThrow(RangeError);
    },
  );
  it("parseBeijingDate refuses impossible dates", () => {
    expect(() => parseBeijingDate("20230229")).toThrow(RangeError);
    expect(() => parseBeijingDate("2023022")).toThrow(RangeError);
  });
});

describe("parseRfc3339 (WeChat Pay v3 times)", () => {
  it("reads the forms WeChat sends: +08:00, with milliseconds, and Z", () => {
    expect(parseRfc3339("2025-12-02T16:00:00+08:00").toISOString()).toBe("2025-12-02T08:00:00.000Z");
    expect(parseRfc3339("2015-05-20T13:29:35.120+08:00").toISOString()).toBe("2015-05-20T05:29:35.120Z");
    expect(parseRfc3339("2023-09-19T15:15:58Z").toISOString()).toBe("2023-09-19T15:15:58.000Z");
    expect(parseRfc3339("2025-12-31T23:30:00-01:30").toISOString()).toBe("2026-01-01T01:00:00.000Z");
  });
  it("refuses loose or impossible times", () => {
    for (const s of ["2025-12-02 16:00:00", "2025-12-02T16:00:00", "2025-02-29T00:00:00Z", "2025-12-02T24:00:00Z", "2025-12-02T16:00:00+24:00", "20251202T160000Z", ""]) {
      expect(() => parseRfc3339(s), s).toThrow(RangeError);
    }
  });
});
