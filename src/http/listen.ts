/**
 * Serving Node's HTTP server the way `duragent serve` and `duragent codec-server` both do: a
 * request handler whose failures become a logged 500, a listen that rejects on EADDRINUSE and the
 * like, and a close that does not wait for open streams.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Listening {
  server: Server;
  port: number;
  /** `http://<host>:<port>`, with an IPv6 host in brackets. */
  origin: string;
  /** Stops accepting and drops open connections (an SSE stream would hold close() forever). */
  close(): Promise<void>;
}

export async function listenHttp(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  options: { host: string; port: number; onError: (error: unknown, res: ServerResponse) => void },
): Promise<Listening> {
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) options.onError(error, res);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") && !options.host.startsWith("[") ? `[${options.host}]` : options.host;
  return {
    server,
    port,
    origin: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
