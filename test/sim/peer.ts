// What the simulator's tests use to check it from the outside: the local account and the independent
// test oracle (test/oracle.ts: the official v2 signature and a flat-XML reader/writer written apart
// from the simulator), so the simulator is never checked against its own code.
import { signWechat } from "../oracle.ts";
import type { SignType } from "../oracle.ts";

export { parseXml as parse, toXml } from "../oracle.ts";

export const APPID = "wxd930ea5d5a258f4f";
export const MCH = "10000100";
export const KEY = "192006250b4c09247ec02edce69f6a2d";
export type T = SignType;

/** The official sign (test/oracle.ts), with the local API key unless another is given. */
export function officialSign(f: Record<string, string>, type: T = "MD5", key = KEY): string {
  return signWechat(f, key, type);
}
