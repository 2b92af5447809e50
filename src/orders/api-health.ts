/**
 * /health's problems that only D1 can reveal: open orders whose WeChat Pay API this deployment can
 * no longer speak. An order keeps the API it was placed with, so after switching WECHAT_PAY_API the
 * other API's credentials are still needed until its orders are settled: unpaid orders (queried and
 * closed by the cron) and PROCESSING refunds.
 */
import type { Config, PayApi } from "../config";
import { logEvent } from "../log";

/** Whether any order placed with `api` is unpaid or has a PROCESSING refund (two indexed lookups). */
async function hasOpenOrders(db: D1Database, api: PayApi): Promise<boolean> {
  const row = await db
    .prepare(
      `SELECT 1 FROM orders WHERE status IN ('NOTPAY', 'PAYERROR') AND api = ?1
       UNION ALL
       SELECT 1 FROM refunds r JOIN orders o ON o.out_trade_no = r.out_trade_no WHERE r.status = 'PROCESSING' AND o.api = ?1
       LIMIT 1`,
    )
    .bind(api)
    .first();
  return row !== null;
}

/** The problems for a valid config (none when both APIs are configured; D1 trouble reports none). */
export async function openOrderProblems(db: D1Database, config: Config): Promise<string[]> {
  const problems: string[] = [];
  try {
    if (config.payKey === null && (await hasOpenOrders(db, "v2"))) {
      problems.push("WECHAT_PAY_KEY is missing while orders placed with API v2 are still open (unpaid, or with refunds in progress)");
    }
    if (config.v3 === null && (await hasOpenOrders(db, "v3"))) {
      problems.push("the WeChat Pay API v3 credentials are missing while orders placed with API v3 are still open (unpaid, or with refunds in progress)");
    }
  } catch (error) {
    logEvent("health_open_orders_failed", { error: error instanceof Error ? error.name : "unknown" });
  }
  return problems;
}
