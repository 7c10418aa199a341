/**
 * A client's connection to Temporal, and why one fails. A local address that refuses is said at
 * once. For TLS, the handshake itself is asked. The SDKs' connections
 * report any handshake failure as a deadline passed; Node's TLS socket names the cause (an
 * untrusted or misnamed server certificate, a client certificate the server wants or refuses, a
 * server without TLS), which is what the user has to fix.
 */
import { connect as connectTcp, isIP } from "node:net";
import { Connection } from "@temporalio/client";
import { connect, type ConnectionOptions } from "node:tls";
import type { DuragentConfig } from "../config/schema.js";
import { ExitCode, isUserError, UserError } from "../errors/user-error.js";
import { temporalConnectionOptions } from "./temporal-connection.js";
import { temporalUnreachable } from "./temporal-errors.js";

export interface TlsProbeSettings {
  address: string;
  serverName?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

/** `host:port`, an IPv6 host without its brackets; undefined without a port. */
function hostAndPort(address: string): { host: string; port: number } | undefined {
  const at = /^(.+):(\d+)$/.exec(address);
  return at ? { host: at[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(at[2]) } : undefined;
}

/**
 * A client connection to Temporal. A local server that is not up is said at once, not after the
 * SDK's retries until its 5 s deadline, which a closed connection still waits out before its
 * process can exit: every command run before `temporal server start-dev` would.
 */
export async function connectClient(temporal: DuragentConfig["temporal"]): Promise<Connection> {
  // Settings first: a certificate file that cannot be read is the thing to fix, server or not.
  const options = temporalConnectionOptions(temporal);
  const refused = await loopbackRefusal(temporal.address);
  if (refused) throw temporalUnreachable(temporal, new Error(refused));
  return Connection.connect({
    ...options,
    connectTimeout: 5_000,
    // The SDK means to allow 128 MB answers but names the setting as grpc-js does not read it, which
    // leaves grpc-js's 4 MB: a page of a long run's history (a few big tool results) is more.
    channelArgs: { "grpc.max_receive_message_length": maxReceiveBytes },
  });
}

const maxReceiveBytes = 128 * 1024 * 1024;

/**
 * Why nothing listens at a loopback `address`, said in a millisecond where the SDK's connection
 * would retry until its deadline; undefined when it accepts, stays silent, or is not loopback
 * (a remote server's probe would cost every connection a round trip).
 */
export function loopbackRefusal(address: string, timeoutMs = 1_000): Promise<string | undefined> {
  const at = hostAndPort(address);
  if (!at || !(at.host === "localhost" || at.host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(at.host))) return Promise.resolve(undefined);
  const { host, port } = at;
  return new Promise((resolve) => {
    // `localhost` may name ::1 and 127.0.0.1: refused only when neither takes the connection.
    const socket = connectTcp({ host, port, autoSelectFamily: true });
    const done = (reason?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(), timeoutMs);
    socket.once("connect", () => done());
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code === "ECONNREFUSED" ? "connection refused (ECONNREFUSED)" : undefined));
  });
}

/** What went wrong in the handshake, in the user's terms, or undefined when it completes. */
export async function tlsHandshakeProblem(settings: TlsProbeSettings, timeoutMs = 3_000): Promise<string | undefined> {
  const at = hostAndPort(settings.address);
  if (!at) return undefined;
  const { host, port } = at;
  const servername = settings.serverName ?? (isIP(host) ? undefined : host);
  const options: ConnectionOptions = {
    host,
    port,
    ALPNProtocols: ["h2"],
    ...(servername ? { servername } : {}),
    ...(settings.serverRootCACertificate ? { ca: settings.serverRootCACertificate } : {}),
    ...(settings.clientCertPair ? { cert: settings.clientCertPair.crt, key: settings.clientCertPair.key } : {}),
  };
  const outcome = await new Promise<Error | "silent" | undefined>((resolve) => {
    const socket = connect(options);
    const done = (result: Error | "silent" | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done("silent"), timeoutMs);
    socket.once("error", (error) => done(error));
    socket.once("secureConnect", () => {
      // TLS 1.3 servers judge the client's certificate after the handshake: their refusal comes
      // as an alert on the first read, so speak first (HTTP/2's preface) and wait for the answer.
      socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
      socket.once("data", () => done(undefined));
      socket.once("end", () => done(new Error("the server closed the connection after the handshake")));
    });
  });
  if (outcome === undefined) return undefined;
  if (outcome === "silent") return `the server at ${settings.address} did not complete a TLS handshake within ${timeoutMs / 1000} s`;
  return explain(outcome as NodeJS.ErrnoException, servername);
}

function explain(error: NodeJS.ErrnoException, servername: string | undefined): string | undefined {
  const code = error.code ?? "";
  // OpenSSL's own messages carry its source file and line; its `reason` is the readable part.
  const reason = (error as { reason?: unknown }).reason;
  const text = code.startsWith("ERR_SSL_") && typeof reason === "string" ? reason : error.message;
  const said = `${text}${code && !text.includes(code) ? `, ${code}` : ""}`;
  // Not the handshake's doing: the caller's own message covers it.
  if (/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/.test(code)) return undefined;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|ECONNRESET/.test(code)) {
    return `the server does not speak TLS at this address (${said}): a server without TLS, such as \`temporal server start-dev\`, needs TLS off (temporal.tls: false)`;
  }
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE/.test(code)) {
    return `the server's certificate is not trusted (${said}): give the CA that signed it as the server root CA (temporal.tls.serverRootCaCertPath, TEMPORAL_TLS_SERVER_CA_CERT_PATH or the profile's server_ca_cert_path)`;
  }
  if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(code)) return `the server's certificate is not valid now (${said})`;
  if (/ALTNAME/.test(code)) {
    return `the server's certificate is not for ${servername ?? "this address"} (${said}): set the name it was issued for as the server name (temporal.tls.serverName, TEMPORAL_TLS_SERVER_NAME or the profile's server_name)`;
  }
  if (/CERTIFICATE_REQUIRED/.test(code)) {
    return `the server requires a client certificate (mTLS) and none was sent (${said}): give one (temporal.tls.clientCertPath and clientKeyPath, TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or the profile's)`;
  }
  if (/BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|DECRYPT_ERROR/.test(code)) {
    return `the server refused the client certificate (${said}): it must be signed by a CA the server trusts, with its matching key`;
  }
  return `the TLS handshake failed: ${said}`;
}

/**
 * The error for a connection to Temporal that failed: with TLS on, what the handshake says
 * (the SDKs only say that their deadline passed), else what `temporalUnreachable` says.
 */
export async function explainUnreachable(temporal: DuragentConfig["temporal"], error: unknown): Promise<UserError> {
  const fallback = temporalUnreachable(temporal, error);
  if (isUserError(error)) return fallback;
  let options: ReturnType<typeof temporalConnectionOptions>;
  try {
    options = temporalConnectionOptions(temporal);
  } catch (readError) {
    return isUserError(readError) ? readError : fallback;
  }
  if (!options.tls) return fallback;
  const tls = options.tls === true ? {} : options.tls;
  const problem = await tlsHandshakeProblem({
    address: temporal.address,
    ...(tls.serverNameOverride ? { serverName: tls.serverNameOverride } : {}),
    ...(tls.serverRootCACertificate ? { serverRootCACertificate: Buffer.from(tls.serverRootCACertificate) } : {}),
    ...(tls.clientCertPair ? { clientCertPair: { crt: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) } } : {}),
  });
  if (!problem) return fallback;
  return new UserError(`Cannot reach Temporal at ${temporal.address}: ${problem}.`, {
    name: "TemporalUnreachable",
    exitCode: ExitCode.unavailable,
    hint: "TLS settings come from temporal.tls in the config, TEMPORAL_TLS_* variables, or the temporal.toml profile (TEMPORAL_PROFILE); `temporal workflow list` with the same settings checks them apart from duragent.",
    cause: error,
  });
}
