/**
 * A worker's health over HTTP, for an orchestrator's probes: `/healthz` (liveness) answers 200
 * while the process serves or drains, `/readyz` (readiness) 200 only while it takes new steps.
 * Temporal's Prometheus endpoint serves metrics alone, so this is a server of its own.
 */
import { createServer, type Server } from "node:http";
import { UserError } from "../errors/user-error.js";

export interface HealthSource {
  /** Temporal's worker state: INITIALIZED, RUNNING, STOPPING, DRAINING, DRAINED, STOPPED, FAILED. */
  state(): string;
  inFlightSteps(): number;
  taskQueue: string;
}

export interface HealthServer {
  readonly url: string;
  close(): Promise<void>;
}

const alive = new Set(["INITIALIZED", "RUNNING", "STOPPING", "DRAINING", "DRAINED"]);

export async function serveHealth(address: string, source: HealthSource): Promise<HealthServer> {
  const at = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(address);
  if (!at) throw new UserError(`--health ${address}: expected host:port, e.g. 0.0.0.0:8081.`);
  const host = at[1]!.replace(/^\[(.*)\]$/, "$1");
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const state = source.state();
    const ok = path === "/readyz" ? state === "RUNNING" : path === "/healthz" ? alive.has(state) : undefined;
    if (ok === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end("GET /healthz (alive) or /readyz (taking steps)\n");
      return;
    }
    response
      .writeHead(ok ? 200 : 503, { "content-type": "application/json" })
      .end(`${JSON.stringify({ state: state.toLowerCase(), taskQueue: source.taskQueue, inFlightSteps: source.inFlightSteps() })}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new UserError(`Cannot serve health checks on ${address}: the port is in use.`, { hint: "Give each worker on this host its own --health address (or worker.health)." })
          : error,
      ),
    );
    server.listen(Number(at[2]), host, resolve);
  });
  const bound = server.address();
  const port = typeof bound === "object" && bound ? bound.port : Number(at[2]);
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
