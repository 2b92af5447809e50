// One API v3 call as a handler sees it, after the Authorization check: the state, the URL, the route's
// path parameters and the raw body text.
import type { SimState } from "../state.ts";
import { paramError } from "./reply.ts";

/** What an API v3 handler gets (the Authorization has been checked already). */
export interface V3Call {
  s: SimState;
  url: URL;
  /** the route's path parameters, percent-decoded */
  params: Record<string, string>;
  /** the body as received (UTF-8), "" for GET */
  text: string;
}

/** The `mchid` query parameter of a GET call: required, and the simulated merchant's. */
export function queryMchid(call: V3Call): string {
  const mchid = call.url.searchParams.get("mchid");
  if (mchid === null || mchid === "") throw paramError("mchid", "缺少必填参数", undefined, "query");
  if (mchid !== call.s.options.mchId) throw paramError("mchid", "与请求的商户号不一致", mchid, "query");
  return mchid;
}
