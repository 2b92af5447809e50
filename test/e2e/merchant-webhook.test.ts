// The merchant receiver example (examples/merchant-webhook) on its own. Every delivery here is signed
// by the test with node:crypto exactly as the merchant-events contract says (./standard-webhooks.ts),
// never with the standardwebhooks package the receiver verifies with.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createReceiver } from "../../examples/merchant-webhook/receiver.mjs";
import { startReceiver } from "../../examples/merchant-webhook/server.mjs";
import { signature, unixNow as now } from "./standard-webhooks.ts";

const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;
const SECRET = newSecret();
const OTHER_SECRET = newSecret();

let counter = 0;
/** An order.paid event as the contract shapes it, with a fresh id. */
function paidEvent(outTradeNo = `T${++counter}`) {
  return {
    id: `evt_test_${Date.now()}_${++counter}`,
    type: "order.paid",
    createdAt: new Date().toISOString(),
    data: {
      order: {
        outTradeNo,
        status: "PAID",
        totalFee: 1990,
        description: "Tea",
        items: [{ sku: "tea", name: "Tea", quantity: 1, priceFen: 1990 }],
        attach: null,
        createdAt: new Date().toISOString(),
        expiresAt: new Date().toISOString(),
        paidAt: new Date().toISOString(),
        transactionId: "4200000000000000001",
        refundedFee: 0,
      },
    },
  };
}

type Sign = { secrets?: string[]; timestamp?: number; body?: string; id?: string; signedBody?: string; signedId?: string };
/** The POST the Worker would send; `secrets` sign it (several: space-separated, as in a rotation). */
function delivery(event: { id: string }, { secrets = [SECRET], timestamp = now(), body = JSON.stringify(event), id = event.id, signedBody = body, signedId = id }: Sign = {}) {
  return new Request("http://merchant.test/webhooks", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": secrets.map((s) => signature(s, signedId, timestamp, signedBody)).join(" "),
    },
    body,
  });
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "merchant-webhook-"));
  dirs.push(dir);
  return join(dir, "nested", "events.jsonl");
}
const storedLines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);

function receiverWithLog(options: Partial<Parameters<typeof createReceiver>[0]> = {}) {
  const lines: string[] = [];
  const receiver = createReceiver({ secret: SECRET, log: (line) => lines.push(line), ...options });
  return { receiver, lines };
}

describe("a valid delivery", () => {
  it("is accepted (200), stored, recorded and printed as one line with type, id, outTradeNo and amounts", async () => {
    const store = storePath();
    const { receiver, lines } = receiverWithLog({ store });
    const event = paidEvent("T-ACCEPT");
    const res = await receiver.fetch(delivery(event));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, duplicate: false });
    expect(receiver.events).toEqual([event]);
    expect(storedLines(store).map((l) => l.event)).toEqual([event]);
    expect(receiver.deliveries).toEqual([{ id: event.id, type: "order.paid", verified: true, duplicate: false, status: 200 }]);
    expect(lines).toEqual([`[merchant] order.paid ${event.id} outTradeNo=T-ACCEPT status=PAID totalFee=1990 refundedFee=0`]);
  });

  it("prints refund amounts for a refund event", async () => {
    const { receiver, lines } = receiverWithLog();
    const event = {
      id: "evt_refund_1",
      type: "refund.succeeded",
      createdAt: new Date().toISOString(),
      data: { refund: { outRefundNo: "R1", outTradeNo: "T9", refundFee: 500, status: "SUCCESS", reason: null, createdAt: new Date().toISOString(), succeededAt: new Date().toISOString() } },
    };
    expect((await receiver.fetch(delivery(event))).status).toBe(200);
    expect(lines).toEqual(["[merchant] refund.succeeded evt_refund_1 outTradeNo=T9 outRefundNo=R1 refundFee=500 refundStatus=SUCCESS"]);
  });

  it("the same id again (a retry, re-signed later) → 2xx duplicate, stored once", async () => {
    const store = storePath();
    const { receiver, lines } = receiverWithLog({ store });
    const event = paidEvent();
    expect((await receiver.fetch(delivery(event, { timestamp: now() - 60 }))).status).toBe(200);
    const again = await receiver.fetch(delivery(event));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ok: true, duplicate: true });
    expect(receiver.events).toHaveLength(1);
    expect(storedLines(store)).toHaveLength(1);
    expect(receiver.deliveries.map((d) => [d.duplicate, d.status])).toEqual([[false, 200], [true, 200]]);
    expect(lines[1]).toBe(`[merchant] duplicate order.paid ${event.id} (already stored)`);
  });

  it("two copies arriving at once are stored once", async () => {
    const store = storePath();
    const { receiver } = receiverWithLog({ store });
    const event = paidEvent();
    const answers = await Promise.all([receiver.fetch(delivery(event)), receiver.fetch(delivery(event))]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(storedLines(store)).toHaveLength(1);
    expect(receiver.deliveries.filter((d) => d.duplicate)).toHaveLength(1);
  });
});

describe("a delivery whose signature does not verify → 401, nothing stored", () => {
  const cases: [string, (event: ReturnType<typeof paidEvent>) => Request][] = [
    ["signed with another secret", (e) => delivery(e, { secrets: [OTHER_SECRET] })],
    ["a changed body (the amount)", (e) => delivery(e, { signedBody: JSON.stringify(e), body: JSON.stringify(e).replace('"totalFee":1990', '"totalFee":1') })],
    ["a timestamp older than the 5-minute tolerance", (e) => delivery(e, { timestamp: now() - 5 * 60 - 30 })],
    ["a timestamp more than 5 minutes ahead", (e) => delivery(e, { timestamp: now() + 5 * 60 + 30 })],
    ["a signature made for another id", (e) => delivery(e, { signedId: "evt_other" })],
    ["no signature header", (e) => new Request("http://merchant.test/webhooks", { method: "POST", headers: { "webhook-id": e.id, "webhook-timestamp": String(now()) }, body: JSON.stringify(e) })],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const store = storePath();
      const { receiver, lines } = receiverWithLog({ store });
      const res = await receiver.fetch(make(paidEvent()));
      expect(res.status).toBe(401);
      expect(receiver.events).toEqual([]);
      expect(existsSync(store) ? readFileSync(store, "utf8") : "").toBe("");
      expect(receiver.deliveries).toEqual([expect.objectContaining({ verified: false, duplicate: false, status: 401, type: null })]);
      expect(lines[0]).toMatch(/^\[merchant\] 401 .*not stored$/);
    });
  }

  it("a forged copy of a stored id is 401, not a duplicate", async () => {
    const { receiver } = receiverWithLog();
    const event = paidEvent();
    await receiver.fetch(delivery(event));
    expect((await receiver.fetch(delivery(event, { secrets: [OTHER_SECRET] }))).status).toBe(401);
    expect(receiver.deliveries[1]).toMatchObject({ verified: false, duplicate: false });
  });

  it("toleranceSeconds narrows the window (not beyond standardwebhooks' 5 minutes)", async () => {
    const { receiver } = receiverWithLog({ toleranceSeconds: 60 });
    expect((await receiver.fetch(delivery(paidEvent(), { timestamp: now() - 90 }))).status).toBe(401);
    expect((await receiver.fetch(delivery(paidEvent(), { timestamp: now() - 30 }))).status).toBe(200);
    expect(() => createReceiver({ secret: SECRET, toleranceSeconds: 600 })).toThrow("toleranceSeconds must be an integer from 1 to 300");
  });
});

describe("rotation: two signatures, space-separated", () => {
  it("is accepted when either one matches the receiver's secret", async () => {
    const { receiver } = receiverWithLog();
    expect((await receiver.fetch(delivery(paidEvent(), { secrets: [SECRET, OTHER_SECRET] }))).status).toBe(200);
    expect((await receiver.fetch(delivery(paidEvent(), { secrets: [OTHER_SECRET, SECRET] }))).status).toBe(200);
    expect((await receiver.fetch(delivery(paidEvent(), { secrets: [OTHER_SECRET, newSecret()] }))).status).toBe(401);
    expect(receiver.events).toHaveLength(2);
  });

  it("a receiver given previousSecret accepts deliveries signed with either secret", async () => {
    const { receiver } = receiverWithLog({ secret: OTHER_SECRET, previousSecret: SECRET });
    expect((await receiver.fetch(delivery(paidEvent(), { secrets: [SECRET] }))).status).toBe(200);
    expect((await receiver.fetch(delivery(paidEvent(), { secrets: [OTHER_SECRET] }))).status).toBe(200);
    expect((await receiver.fetch(delivery(paidEvent(), { secrets: [newSecret()] }))).status).toBe(401);
  });
});

describe("a verified body that is not an event → 400, nothing stored", () => {
  const bodies: [string, (id: string) => string][] = [
    ["not JSON", () => "order paid"],
    ["a JSON array", () => "[]"],
    ["no type", (id) => JSON.stringify({ id, createdAt: "2026-12-02T12:00:00.000Z", data: {} })],
    ["no data", (id) => JSON.stringify({ id, type: "order.paid", createdAt: "2026-12-02T12:00:00.000Z" })],
    ["an id other than webhook-id", () => JSON.stringify({ ...paidEvent(), id: "evt_somebody_else" })],
  ];
  for (const [name, make] of bodies) {
    it(name, async () => {
      const store = storePath();
      const { receiver } = receiverWithLog({ store });
      const id = `evt_bad_${++counter}`;
      const res = await receiver.fetch(delivery({ id }, { body: make(id) }));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^not an event: /);
      expect(receiver.events).toEqual([]);
      expect(existsSync(store)).toBe(false);
      expect(receiver.deliveries).toEqual([{ id, type: null, verified: true, duplicate: false, status: 400 }]);
    });
  }

  it("a body over 256 KiB → 413 before it is read; not a POST → 405", async () => {
    const { receiver } = receiverWithLog();
    const event = { ...paidEvent(), padding: "x".repeat(300 * 1024) };
    expect((await receiver.fetch(delivery(event))).status).toBe(413);
    const get = await receiver.fetch(new Request("http://merchant.test/webhooks"));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(receiver.events).toEqual([]);
  });
});

describe("the test knobs", () => {
  it("failNext(n) answers 503 n times without storing, then accepts the same delivery", async () => {
    const { receiver } = receiverWithLog();
    const event = paidEvent();
    receiver.failNext(2);
    expect((await receiver.fetch(delivery(event))).status).toBe(503);
    expect((await receiver.fetch(delivery(event))).status).toBe(503);
    expect(receiver.events).toEqual([]);
    expect((await receiver.fetch(delivery(event))).status).toBe(200);
    expect(receiver.events).toEqual([event]);
    expect(receiver.deliveries.map((d) => [d.id, d.verified, d.duplicate, d.status])).toEqual([
      [event.id, true, false, 503],
      [event.id, true, false, 503],
      [event.id, true, false, 200],
    ]);
  });

  it("failNext(n, status) answers that status; failNext(0) cancels", async () => {
    const { receiver } = receiverWithLog();
    receiver.failNext(1, 500);
    expect((await receiver.fetch(delivery(paidEvent()))).status).toBe(500);
    receiver.failNext(3, 429);
    receiver.failNext(0);
    expect((await receiver.fetch(delivery(paidEvent()))).status).toBe(200);
    expect(() => receiver.failNext(-1)).toThrow("non-negative integer");
    expect(() => receiver.failNext(1, 99)).toThrow("HTTP status");
  });

  it("stopWith410() answers 410 from then on and stores nothing more", async () => {
    const store = storePath();
    const { receiver } = receiverWithLog({ store });
    await receiver.fetch(delivery(paidEvent()));
    receiver.stopWith410();
    const event = paidEvent();
    expect((await receiver.fetch(delivery(event))).status).toBe(410);
    expect((await receiver.fetch(delivery(event))).status).toBe(410);
    expect(receiver.events).toHaveLength(1);
    expect(storedLines(store)).toHaveLength(1);
    expect(receiver.deliveries.map((d) => d.status)).toEqual([200, 410, 410]);
  });
});

describe("the store keeps the receiver's memory across restarts", () => {
  it("a restarted receiver knows the ids it accepted: the same id is a duplicate, new ones are appended", async () => {
    const store = storePath();
    const first = paidEvent();
    const before = createReceiver({ secret: SECRET, store, log: () => {} });
    expect((await before.fetch(delivery(first))).status).toBe(200);

    const after = createReceiver({ secret: SECRET, store, log: () => {} });
    expect(after.events).toEqual([first]);
    const again = await after.fetch(delivery(first));
    expect(await again.json()).toEqual({ ok: true, duplicate: true });
    const second = paidEvent();
    expect((await after.fetch(delivery(second))).status).toBe(200);
    expect(storedLines(store).map((l) => l.event.id)).toEqual([first.id, second.id]);
    expect(storedLines(store).every((l) => !Number.isNaN(Date.parse(l.receivedAt)))).toBe(true);
  });

  it("a last line cut short by a crash is ignored (that delivery was never acknowledged)", async () => {
    const store = storePath();
    const kept = paidEvent();
    await createReceiver({ secret: SECRET, store, log: () => {} }).fetch(delivery(kept));
    const torn = paidEvent();
    appendFileSync(store, JSON.stringify({ receivedAt: new Date().toISOString(), event: torn }).slice(0, 40));

    const restarted = createReceiver({ secret: SECRET, store, log: () => {} });
    expect(restarted.events.map((e) => e.id)).toEqual([kept.id]);
    expect(readFileSync(store, "utf8").endsWith("\n"), "the torn line is cut off").toBe(true);
    expect((await restarted.fetch(delivery(torn))).status).toBe(200); // the sender's retry
    expect(storedLines(store).map((l) => l.event.id)).toEqual([kept.id, torn.id]);
    expect(createReceiver({ secret: SECRET, store, log: () => {} }).events.map((e) => e.id)).toEqual([kept.id, torn.id]);
  });

  it("a complete last line without its newline (edited by hand) gets one before the next event", async () => {
    const store = storePath();
    createReceiver({ secret: SECRET, store, log: () => {} }); // creates the folder
    const kept = paidEvent();
    writeFileSync(store, JSON.stringify({ receivedAt: new Date().toISOString(), event: kept }));
    const receiver = createReceiver({ secret: SECRET, store, log: () => {} });
    expect(receiver.events).toEqual([kept]);
    const next = paidEvent();
    expect((await receiver.fetch(delivery(next))).status).toBe(200);
    expect(storedLines(store).map((l) => l.event.id)).toEqual([kept.id, next.id]);
  });

  it("a store that cannot be written → 500 (the sender retries), nothing remembered", async () => {
    const store = storePath();
    const { receiver, lines } = receiverWithLog({ store });
    mkdirSync(store); // appending to a directory fails
    const event = paidEvent();
    expect((await receiver.fetch(delivery(event))).status).toBe(500);
    expect(receiver.events).toEqual([]);
    expect(lines).toEqual([`[merchant] 500 ${event.id}: could not store it (EISDIR)`]);
    rmSync(store, { recursive: true });
    expect((await receiver.fetch(delivery(event))).status).toBe(200);
    expect(storedLines(store).map((l) => l.event)).toEqual([event]);
  });

  it("refuses to start on a store with an unreadable line in the middle, naming file and line", () => {
    const store = storePath();
    createReceiver({ secret: SECRET, store }); // creates the folder
    writeFileSync(store, `${JSON.stringify({ event: paidEvent() })}\nnot json\n${JSON.stringify({ event: paidEvent() })}\n`);
    expect(() => createReceiver({ secret: SECRET, store })).toThrow(`${store}:2 is not a stored event`);
  });
});

describe("configuration", () => {
  it("refuses a secret that is not whsec_ + base64 of 24 to 64 bytes, naming the option", () => {
    expect(() => createReceiver({ secret: "" })).toThrow("secret must be whsec_");
    expect(() => createReceiver({ secret: SECRET.slice("whsec_".length) })).toThrow("secret must be whsec_");
    expect(() => createReceiver({ secret: `whsec_${randomBytes(16).toString("base64")}` })).toThrow("24 to 64");
    expect(() => createReceiver({ secret: `${SECRET}!` })).toThrow("secret must be whsec_");
    expect(() => createReceiver({ secret: SECRET, previousSecret: "whsec_short" })).toThrow("previousSecret must be whsec_");
  });
});

describe("server.mjs", () => {
  it("startReceiver serves the receiver over HTTP at url (…/webhooks) and close() frees the port", async () => {
    const lines: string[] = [];
    const server = await startReceiver({ port: 0, secret: SECRET, log: (l) => lines.push(l) });
    const url = new URL(server.url);
    expect(url.hostname).toBe("127.0.0.1");
    expect(url.pathname).toBe("/webhooks");
    const event = paidEvent();
    const signed = delivery(event);
    const res = await fetch(server.url, { method: "POST", headers: signed.headers, body: await signed.text() });
    expect(res.status).toBe(200);
    expect(server.receiver.events).toEqual([event]);
    expect(lines).toHaveLength(1);
    expect((await fetch(server.url)).status).toBe(405);
    await server.close();
    await expect(fetch(server.url)).rejects.toThrow();
  });

  it("the CLI reads RECEIVER_PORT, MERCHANT_WEBHOOK_SECRET and RECEIVER_STORE, prints each event and stops on SIGTERM", async () => {
    const store = storePath();
    const probe = await startReceiver({ port: 0, secret: SECRET, log: () => {} });
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const script = fileURLToPath(new URL("../../examples/merchant-webhook/server.mjs", import.meta.url));
    const child = spawn(process.execPath, [script], { env: { ...process.env, RECEIVER_PORT: String(port), MERCHANT_WEBHOOK_SECRET: SECRET, RECEIVER_STORE: store }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      for (const deadline = Date.now() + 10_000; !output.includes("receiving merchant events"); ) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the CLI did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(output).toContain(`[merchant] receiving merchant events on http://127.0.0.1:${port}/webhooks (accepted ids kept in ${store})`);
      const event = paidEvent("T-CLI");
      const signed = delivery(event);
      const res = await fetch(`http://127.0.0.1:${port}/webhooks`, { method: "POST", headers: signed.headers, body: await signed.text() });
      expect(res.status).toBe(200);
      expect(storedLines(store).map((l) => l.event)).toEqual([event]);
      for (const deadline = Date.now() + 5000; !output.includes("T-CLI") && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      expect(output).toContain(`[merchant] order.paid ${event.id} outTradeNo=T-CLI`);
      expect(output).not.toContain(SECRET);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });

  it("the CLI without MERCHANT_WEBHOOK_SECRET exits 1 with one line saying what to set", async () => {
    const script = fileURLToPath(new URL("../../examples/merchant-webhook/server.mjs", import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, RECEIVER_PORT: "0" };
    delete env.MERCHANT_WEBHOOK_SECRET;
    const child = spawn(process.execPath, [script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(stderr.trim()).toBe("[merchant] failed to start: set MERCHANT_WEBHOOK_SECRET (the Worker's whsec_… secret; locally the one in .dev.vars)");
  });
});
