/**
 * Checkout: price the cart from D1 (never from the client), commit the order before WeChat is
 * called, then get the payment parameters. A failure at WeChat leaves a NOTPAY order that the
 * client can pay later with POST /api/orders/:outTradeNo/payment (or by retrying with the same
 * Idempotency-Key).
 */
import { sha256Hex } from "../digest";
import { ApiError, badRequest } from "../errors";
import { getOrder, getOrderItems, insertOrder, type OrderItemRow, type OrderRow } from "../store/orders";
import { getActiveProducts } from "../store/products";
import { findIdempotencyKey } from "../store/idempotency";
import { newOutTradeNo } from "../wechatpay/ids";
import { MAX_TOTAL_FEE } from "../wechatpay/money";
import type { RequestPayment } from "../wechatpay/payment";
import type { RequestPaymentV3 } from "../wechatpay/v3/payment";
import { hasOutsideBmp, truncateUtf8, withoutOutsideBmp } from "../wechatpay/text";
import { beijingTimestamp } from "../wechatpay/time";
import type { Deps } from "./deps";
import { ensurePayment } from "./prepay";
import { v3NotifyUrl } from "./v3/notify-url";

/** WeChat's `body` limit (String(127)); we count UTF-8 bytes, the strict reading. */
const BODY_MAX_BYTES = 127;
const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;

export interface CartLine {
  sku: string;
  quantity: number;
}

export interface CheckoutInput {
  userId: string;
  openid: string;
  items: CartLine[];
  attach: string | null;
  clientIp: string;
  /** Request origin, for the default notify_url. */
  origin: string;
  idempotencyKey: string | null;
}

export interface CheckoutResult {
  order: OrderRow;
  items: OrderItemRow[];
  /** v2: MD5/HMAC-SHA256 paySign; v3: signType "RSA". Same shape either way. */
  payment: RequestPayment | RequestPaymentV3;
}

export async function checkout(deps: Deps, input: CheckoutInput): Promise<CheckoutResult> {
  const now = deps.now();
  const requestHash = await hashRequest(input);

  if (input.idempotencyKey) {
    const existing = await findIdempotencyKey(deps.db, input.userId, input.idempotencyKey, now.getTime() - IDEMPOTENCY_WINDOW_MS);
    if (existing) {
      if (existing.request_hash !== requestHash) {
        throw new ApiError(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different order");
      }
      return payFor(deps, existing.out_trade_no);
    }
  }

  const products = new Map((await getActiveProducts(deps.db, input.items.map((i) => i.sku))).map((p) => [p.sku, p]));
  const lines = input.items.map((line, index) => {
    const product = products.get(line.sku);
    if (!product) throw badRequest(`items[${index}].sku: unknown or inactive product "${line.sku}"`, "UNKNOWN_SKU");
    return { sku: product.sku, name: product.name, quantity: line.quantity, priceFen: product.price_fen, fulfilment: product.fulfilment };
  });
  const totalFee = lines.reduce((sum, l) => sum + l.priceFen * l.quantity, 0);
  // WeChat's total_fee is an Int: a larger order could be stored but never paid.
  if (!Number.isSafeInteger(totalFee) || totalFee > MAX_TOTAL_FEE) {
    throw badRequest(`items: the order total must be at most ${MAX_TOTAL_FEE} fen (WeChat's limit for one payment)`);
  }

  const api = deps.config.payApi;
  // API v3 refuses characters outside the BMP (emoji) in every field: say so now, not at prepay.
  if (api === "v3" && input.attach !== null && hasOutsideBmp(input.attach)) {
    throw badRequest("attach must not contain characters outside the BMP (e.g. emoji): WeChat Pay API v3 refuses them");
  }
  const outTradeNo = newOutTradeNo(now);
  const expiresAt = new Date(now.getTime() + deps.config.orderTtlMinutes * 60_000);
  try {
    await insertOrder(deps.db, {
      outTradeNo,
      userId: input.userId,
      openid: input.openid,
      totalFee,
      description: api === "v3" ? withoutOutsideBmp(describe(lines)).trim() || "order" : describe(lines),
      attach: input.attach,
      signType: deps.config.signType,
      api,
      clientIp: input.clientIp,
      notifyUrl: api === "v3" ? v3NotifyUrl(deps.config, input.origin, "pay") : (deps.config.notifyUrl ?? `${input.origin}/wechat/pay/notify`),
      timeStart: beijingTimestamp(now),
      timeExpire: beijingTimestamp(expiresAt),
      createdAt: now.getTime(),
      expiresAt: expiresAt.getTime(),
      items: lines,
      idempotency: input.idempotencyKey ? { key: input.idempotencyKey, requestHash } : null,
    });
  } catch (error) {
    // A concurrent request with the same Idempotency-Key won the race: answer with its order.
    if (input.idempotencyKey && /UNIQUE constraint failed: idempotency_keys/.test(String(error))) {
      const existing = await findIdempotencyKey(deps.db, input.userId, input.idempotencyKey, 0);
      if (existing && existing.request_hash === requestHash) return payFor(deps, existing.out_trade_no);
      throw new ApiError(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different order");
    }
    throw error;
  }

  return payFor(deps, outTradeNo);
}

/** The committed order with its payment parameters (a new order, or the one an Idempotency-Key names). */
async function payFor(deps: Deps, outTradeNo: string): Promise<CheckoutResult> {
  const order = await getOrder(deps.db, outTradeNo);
  if (!order) throw new Error("a committed order is missing");
  const payment = await withOrderRef(outTradeNo, () => ensurePayment(deps, order));
  const fresh = (await getOrder(deps.db, outTradeNo)) ?? order;
  return { order: fresh, items: (await getOrderItems(deps.db, [outTradeNo])).get(outTradeNo) ?? [], payment };
}

/** Upstream failures after the order exists carry its out_trade_no, so the client can retry payment. */
async function withOrderRef<T>(outTradeNo: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ApiError) throw new ApiError(error.status, error.code, error.message, { ...error.headers }, { outTradeNo });
    throw error;
  }
}

/** `body` for unifiedorder: first product name (+ count), cut to 127 UTF-8 bytes on a character boundary. */
export function describe(lines: readonly { name: string; quantity: number }[]): string {
  const first = lines[0]?.name ?? "order";
  const count = lines.reduce((n, l) => n + l.quantity, 0);
  return truncateUtf8(count > 1 ? `${first} 等${count}件商品` : first, BODY_MAX_BYTES);
}

async function hashRequest(input: CheckoutInput): Promise<string> {
  const canonical = JSON.stringify({ items: input.items.map((i) => [i.sku, i.quantity]), attach: input.attach });
  return sha256Hex(canonical);
}
