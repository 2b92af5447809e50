// Merchant-event signatures are Standard Webhooks: the npm package `standardwebhooks` (an
// independent implementation) verifies what webhookHeaders() produces, and refuses a wrong secret,
// a changed body, a stale timestamp; during a rotation either secret verifies.
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { webhookHeaders } from "../../src/webhooks/signature";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const keyOf = (secret: string) => Uint8Array.from(atob(secret.slice(6)), (c) => c.charCodeAt(0));
const body = JSON.stringify({ id: "evt_0123456789abcdef01234567", type: "order.paid", createdAt: "2026-12-02T12:00:00.000Z", data: { order: { totalFee: 1990 } } });
const now = () => Math.floor(Date.now() / 1000);

describe("webhookHeaders", () => {
  it("signs as Standard Webhooks: standardwebhooks verifies the body and returns it", async () => {
    const headers = await webhookHeaders("evt_0123456789abcdef01234567", now(), body, [keyOf(SECRET)]);
    expect(headers["webhook-id"]).toBe("evt_0123456789abcdef01234567");
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("matches the Standard Webhooks reference signature for a fixed id, timestamp and body", async () => {
    const webhook = new Webhook(SECRET);
    const at = new Date(1_764_676_800_000);
    const expected = webhook.sign("evt_fixed", at, body);
    const headers = await webhookHeaders("evt_fixed", at.getTime() / 1000, body, [keyOf(SECRET)]);
    expect(headers["webhook-signature"]).toBe(expected);
  });

  it("a wrong secret, a changed body or a replayed old timestamp fails verification", async () => {
    const headers = await webhookHeaders("evt_0123456789abcdef01234567", now(), body, [keyOf(SECRET)]);
    expect(() => new Webhook(OTHER).verify(body, headers)).toThrow();
    expect(() => new Webhook(SECRET).verify(body.replace("1990", "1"), headers)).toThrow();
    const old = await webhookHeaders("evt_0123456789abcdef01234567", now() - 6 * 60, body, [keyOf(SECRET)]);
    expect(() => new Webhook(SECRET).verify(body, old)).toThrow(/timestamp/i);
  });

  it("during a rotation carries both signatures, and a receiver holding either secret verifies", async () => {
    const headers = await webhookHeaders("evt_0123456789abcdef01234567", now(), body, [keyOf(SECRET), keyOf(OTHER)]);
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(OTHER).verify(body, headers)).toEqual(JSON.parse(body));
  });
});
