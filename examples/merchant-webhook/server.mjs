// The merchant receiver (receiver.mjs) on node:http. `startReceiver` is reused by the local stack
// (scripts/local-stack.mjs, so `npm start` shows events in its terminal); run alone:
//   MERCHANT_WEBHOOK_SECRET=whsec_… node examples/merchant-webhook/server.mjs
// (env: RECEIVER_PORT, default 8789; HOST, default 127.0.0.1; RECEIVER_STORE, default
// .wrangler/merchant-webhook/events.jsonl; MERCHANT_WEBHOOK_SECRET_PREVIOUS during a rotation).
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { createReceiver } from "./receiver.mjs";

/** Where the CLI (and `npm start`) keeps the ids it accepted, beside wrangler's local state. */
export const DEFAULT_STORE = ".wrangler/merchant-webhook/events.jsonl";

/** The incoming node:http request as a Web Request (the body streamed, not buffered here). */
function toRequest(req, origin) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    for (const v of Array.isArray(value) ? value : [value ?? ""]) headers.append(name, v);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(new URL(req.url ?? "/", origin), {
    method: req.method,
    headers,
    ...(hasBody ? { body: /** @type {ReadableStream} */ (Readable.toWeb(req)), duplex: "half" } : {}),
  });
}

/**
 * Starts a receiver on node:http. `url` is the address to give the Worker as MERCHANT_WEBHOOK_URL
 * (`http://127.0.0.1:<port>/webhooks` also when listening on every interface); the receiver accepts
 * POSTs on any path.
 * @param {{ port?: number, host?: string } & import("./receiver.mjs").ReceiverOptions} options
 * @returns {Promise<{ url: string, receiver: import("./receiver.mjs").Receiver, close(): Promise<void> }>}
 */
export async function startReceiver({ port = 8789, host = "127.0.0.1", ...options }) {
  const receiver = createReceiver(options);
  const server = createServer(async (req, res) => {
    try {
      const response = await receiver.fetch(toRequest(req, `http://${req.headers.host ?? "localhost"}`));
      const headers = Object.fromEntries(response.headers);
      // A body refused before it was read (too large) leaves the connection unusable: say so.
      if (!req.complete) headers.connection = "close";
      res.writeHead(response.status, headers);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      console.error(`[merchant] error: ${error.message}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("receiver error\n");
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const bound = /** @type {import("node:net").AddressInfo} */ (server.address()).port;
  const reachable = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${reachable}:${bound}/webhooks`,
    receiver,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main() {
  const env = process.env;
  const port = env.RECEIVER_PORT ? Number(env.RECEIVER_PORT) : 8789;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`RECEIVER_PORT=${env.RECEIVER_PORT} is not a port number`);
  if (!env.MERCHANT_WEBHOOK_SECRET) throw new Error("set MERCHANT_WEBHOOK_SECRET (the Worker's whsec_… secret; locally the one in .dev.vars)");
  const store = env.RECEIVER_STORE || DEFAULT_STORE;
  const server = await startReceiver({
    port,
    host: env.HOST || "127.0.0.1",
    secret: env.MERCHANT_WEBHOOK_SECRET,
    previousSecret: env.MERCHANT_WEBHOOK_SECRET_PREVIOUS || null,
    store,
  });
  console.log(`[merchant] receiving merchant events on ${server.url} (accepted ids kept in ${store})`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(`[merchant] failed to start: ${error.message}`);
    process.exit(1);
  });
}
