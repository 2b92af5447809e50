// Reading an API v3 JSON request body under WeChat's data rules
// (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/basic-rules.html): a JSON object,
// no `null` anywhere, strings of UTF-8 characters of at most 3 bytes (no emoji), integers for amounts.
// Every refusal is a 400 PARAM_ERROR naming the field as a JSON Pointer; unknown fields are ignored.
import { V3Refusal, paramError, v3Error } from "./reply.ts";

export type Json = Record<string, unknown>;

/** Characters outside the Basic Multilingual Plane (4-byte UTF-8, e.g. emoji): WeChat does not accept them. */
const OUTSIDE_BMP = /[\u{10000}-\u{10FFFF}]/u;

function firstNull(v: unknown, pointer: string): string | null {
  if (v === null) return pointer;
  if (typeof v !== "object") return null;
  for (const [k, x] of Object.entries(v as Json)) {
    const found = firstNull(x, `${pointer}/${k}`);
    if (found !== null) return found;
  }
  return null;
}

/** Parses a request body: a JSON object without nulls, or a 400 refusal. */
export function readJsonBody(text: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new V3Refusal(v3Error(400, "PARAM_ERROR", "请求体不是合法的JSON", { location: "body", issue: "invalid JSON" }));
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new V3Refusal(v3Error(400, "PARAM_ERROR", "请求体必须是JSON对象", { location: "body", issue: "not a JSON object" }));
  const nullAt = firstNull(v, "");
  if (nullAt !== null) throw paramError(nullAt, "不允许为null");
  return v as Json;
}

/** Rules for one string field: present or not, length in characters, allowed form. */
export interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
}

/** The string `o[key]` (field `pointer`), checked against `rule`; undefined when absent and optional. */
export function str(o: Json, key: string, pointer: string, rule: StringRule = {}): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (rule.required) throw paramError(pointer, "缺少必填参数");
    return undefined;
  }
  if (typeof v !== "string") throw paramError(pointer, "应为字符串", v);
  const length = [...v].length;
  if (rule.required && length === 0) throw paramError(pointer, "不能为空", v);
  if (rule.min !== undefined && length < rule.min) throw paramError(pointer, `长度不能小于${rule.min}`, v);
  if (rule.max !== undefined && length > rule.max) throw paramError(pointer, `长度不能超过${rule.max}`, v);
  if (OUTSIDE_BMP.test(v)) throw paramError(pointer, "包含不支持的字符（4字节UTF-8字符，如emoji）", v);
  if (rule.pattern && !rule.pattern.test(v)) throw paramError(pointer, "格式错误", v);
  return v;
}

/** The integer `o[key]` (a JSON number without fraction), at least `min`; undefined when absent and optional. */
export function int(o: Json, key: string, pointer: string, rule: { required?: boolean; min?: number } = {}): number | undefined {
  const v = o[key];
  if (v === undefined) {
    if (rule.required) throw paramError(pointer, "缺少必填参数");
    return undefined;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw paramError(pointer, "应为整数（单位：分）", v);
  if (rule.min !== undefined && v < rule.min) throw paramError(pointer, `不能小于${rule.min}`, v);
  return v;
}

/** The object `o[key]`; undefined when absent and optional. */
export function obj(o: Json, key: string, pointer: string, required = false): Json | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) throw paramError(pointer, "缺少必填参数");
    return undefined;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw paramError(pointer, "应为JSON对象", v);
  return v as Json;
}

/** A stable text of a JSON value with object keys sorted: equal for equal parameters whatever their order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Json;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
