// Scripted faults on the API v3 routes (POST /__sim/faults with a route template as `path`): some answer
// instead of the handler (transport errors, scripted errors), some let the call be processed and then
// spoil or lose the reply — including its signature headers (see sim/README.md "API v3").
import { transportFault } from "../faults.ts";
import type { Fault } from "../faults.ts";
import { v3Error } from "./reply.ts";
import type { V3Reply } from "./reply.ts";
import { HEADER_SPOILS } from "./spoil.ts";
import type { HeaderSpoil } from "./spoil.ts";

/** The answer of a fault that replaces processing (a V3Reply or a raw Response), or null when the call is processed first. */
export function immediateV3Fault(fault: Fault): V3Reply | Response | null {
  switch (fault.fault) {
    case "http500":
    case "html":
    case "empty":
      return transportFault(fault.fault, "application/json");
    case "systemerror":
      return v3Error(500, "SYSTEM_ERROR", "系统错误");
    case "notenough":
      return v3Error(403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起");
    case "business":
      return v3Error(fault.status ?? 400, fault.errCode ?? "SYSTEM_ERROR", fault.errCodeDes ?? "system error");
    case "bill_creating":
      return v3Error(400, "STATEMENT_CREATING", "账单生成中，请稍后再试");
    default:
      return null;
  }
}

/** The signature-header spoil a fault asks for, or null. */
export function headerSpoilOf(fault: Fault | null): HeaderSpoil | null {
  return fault && (HEADER_SPOILS as readonly string[]).includes(fault.fault) ? (fault.fault as HeaderSpoil) : null;
}
