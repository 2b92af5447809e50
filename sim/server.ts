// `npm run sim`: the WeChat simulator alone, on node:http (127.0.0.1:SIM_PORT, default 8788), delivering
// notifications itself over HTTP. `startSimServer` is reused by scripts (start/demo/e2e).
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { createSimulator } from "./core.ts";
import type { Simulator, SimulatorOptions } from "./core.ts";
import { V3_MODES } from "./v3/trust.ts";
import type { V3Mode, V3Options } from "./v3/trust.ts";

/** The local defaults: equal to wrangler.jsonc "vars" and .dev.vars.example. Never production values. */
export const LOCAL_DEFAULTS = {
  appId: "wxd930ea5d5a258f4f",
  mchId: "10000100",
  apiKey: "192006250b4c09247ec02edce69f6a2d",
  appSecret: "local-app-secret-for-the-simulator",
} as const;

export type SimServerOptions = Partial<SimulatorOptions> & { port?: number; host?: string };

export interface SimServer {
  url: string;
  sim: Simulator;
  close(): Promise<void>;
}

async function toRequest(req: IncomingMessage, res: ServerResponse, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else headers.set(k, v);
  }
  const ac = new AbortController();
  // the caller went away before we answered (e.g. it aborted a "timeout" fault)
  res.on("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  const method = req.method ?? "GET";
  return new Request(new URL(req.url ?? "/", origin), {
    method,
    headers,
    body: method === "GET" || method === "HEAD" ? undefined : body,
    signal: ac.signal,
  });
}

export async function startSimServer(options: SimServerOptions = {}): Promise<SimServer> {
  const { port = 8788, host = "127.0.0.1", ...rest } = options;
  const sim = createSimulator({
    ...LOCAL_DEFAULTS,
    delivery: "http",
    log: (line) => console.log(`[sim] ${line}`),
    ...rest,
  });
  const server = createServer((req, res) => {
    const origin = `http://${req.headers.host ?? `${host}:${port}`}`;
    void (async () => {
      try {
        const request = await toRequest(req, res, origin);
        const response = await sim.fetch(request);
        if (res.destroyed) return;
        const buf = Buffer.from(await response.arrayBuffer());
        const headers: Record<string, string> = {};
        response.headers.forEach((v, k) => (headers[k] = v));
        headers["content-length"] = String(buf.length);
        res.writeHead(response.status, headers);
        res.end(buf);
      } catch (e) {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`simulator error: ${(e as Error).message}`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${host}:${addr.port}`;
  return {
    url,
    sim,
    close: () =>
      new Promise<void>((resolve) => {
        sim.close();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * Options for `npm run sim` (and scripts that want the same behaviour) from the environment:
 * WECHAT_APPID, WECHAT_MCH_ID, WECHAT_PAY_KEY, WECHAT_APP_SECRET (falling back to LOCAL_DEFAULTS), SIM_PORT
 * (8788), SIM_TIME_SCALE (1), SIM_CLOSE_MIN_AGE_SECONDS (0 for local development; WeChat documents 300),
 * SIM_AUTO_COMPLETE_REFUNDS_MS (3000); message pushes when set: WECHAT_PUSH_TOKEN, WECHAT_PUSH_AES_KEY (safe
 * mode), SIM_PUSH_URL, SIM_PUSH_FORMAT (json | xml), SIM_AUTO_PUSH_ON_SHIPPING (1 | true); API v3 when set
 * (else the TEST-ONLY keys of sim/v3/test-keys.ts): SIM_V3_MODE (publicKey | certificate | migrating),
 * WECHAT_APIV3_KEY, WECHAT_MCH_SERIAL with WECHAT_MCH_PRIVATE_KEY (the simulator keeps only its public half).
 */
export function simOptionsFromEnv(env: Record<string, string | undefined> = process.env): SimServerOptions {
  const num = (name: string, fallback: number): number => {
    const v = env[name];
    if (v === undefined || v === "") return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
    return n;
  };
  const push: Partial<SimulatorOptions> = {};
  if (env.WECHAT_PUSH_TOKEN) push.pushToken = env.WECHAT_PUSH_TOKEN;
  if (env.WECHAT_PUSH_AES_KEY) push.pushAesKey = env.WECHAT_PUSH_AES_KEY;
  if (env.SIM_PUSH_URL) push.pushUrl = env.SIM_PUSH_URL;
  if (env.SIM_PUSH_FORMAT) {
    if (env.SIM_PUSH_FORMAT !== "json" && env.SIM_PUSH_FORMAT !== "xml") throw new Error(`SIM_PUSH_FORMAT must be json or xml, got ${JSON.stringify(env.SIM_PUSH_FORMAT)}`);
    push.pushFormat = env.SIM_PUSH_FORMAT;
  }
  if (env.SIM_AUTO_PUSH_ON_SHIPPING === "1" || env.SIM_AUTO_PUSH_ON_SHIPPING === "true") push.autoPushOnShipping = true;
  const v3 = v3OptionsFromEnv(env);
  if (v3) push.v3 = v3;
  return {
    port: num("SIM_PORT", 8788),
    appId: env.WECHAT_APPID || LOCAL_DEFAULTS.appId,
    mchId: env.WECHAT_MCH_ID || LOCAL_DEFAULTS.mchId,
    apiKey: env.WECHAT_PAY_KEY || LOCAL_DEFAULTS.apiKey,
    appSecret: env.WECHAT_APP_SECRET || LOCAL_DEFAULTS.appSecret,
    timeScale: num("SIM_TIME_SCALE", 1),
    closeMinAgeSeconds: num("SIM_CLOSE_MIN_AGE_SECONDS", 0),
    autoCompleteRefundsAfterMs: num("SIM_AUTO_COMPLETE_REFUNDS_MS", 3000),
    ...push,
  };
}

/** The API v3 options the environment sets (null when it sets none). */
function v3OptionsFromEnv(env: Record<string, string | undefined>): V3Options | null {
  const v3: V3Options = {};
  if (env.SIM_V3_MODE) {
    if (!(V3_MODES as readonly string[]).includes(env.SIM_V3_MODE)) throw new Error(`SIM_V3_MODE must be one of ${V3_MODES.join(", ")}, got ${JSON.stringify(env.SIM_V3_MODE)}`);
    v3.mode = env.SIM_V3_MODE as V3Mode;
  }
  if (env.WECHAT_APIV3_KEY) v3.apiV3Key = env.WECHAT_APIV3_KEY;
  if (env.WECHAT_MCH_PRIVATE_KEY || env.WECHAT_MCH_SERIAL) {
    if (!env.WECHAT_MCH_PRIVATE_KEY || !env.WECHAT_MCH_SERIAL) throw new Error("WECHAT_MCH_PRIVATE_KEY and WECHAT_MCH_SERIAL go together");
    v3.merchantPublicKey = env.WECHAT_MCH_PRIVATE_KEY;
    v3.merchantSerialNo = env.WECHAT_MCH_SERIAL;
  }
  return Object.keys(v3).length ? v3 : null;
}

async function main() {
  const server = await startSimServer(simOptionsFromEnv());
  console.log(`[sim] WeChat simulator listening on ${server.url} (jscode2session, stable_token, shipping + Pay API v2 and v3; control API under ${server.url}/__sim/)`);
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(`[sim] failed to start: ${(e as Error).message}`);
    process.exit(1);
  });
}
