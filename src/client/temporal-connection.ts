/** Connection options for the configured Temporal cluster, shared by the client and the worker. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSConfig } from "@temporalio/client";
import type { DuragentConfig } from "../config/schema.js";
import { ExitCode, UserError } from "../errors/user-error.js";

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export function temporalConnectionOptions(temporal: DuragentConfig["temporal"]): TemporalConnectionOptions {
  const { address, apiKey, tls, metadata } = temporal;
  const common = { address, ...(apiKey !== undefined ? { apiKey } : {}), ...(metadata ? { metadata } : {}) };
  if (tls === undefined || typeof tls === "boolean") {
    // An API key means a remote cluster, which always wants TLS.
    const on = tls ?? (apiKey ? true : undefined);
    return on === undefined ? common : { ...common, tls: on };
  }
  const pem = (inline: string | undefined, key: "clientCertPath" | "clientKeyPath" | "serverRootCaCertPath") => {
    const path = tls[key];
    if (inline !== undefined) return Buffer.from(inline);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : error instanceof Error ? error.message : String(error);
      throw new UserError(`Cannot read temporal.tls.${key} ${path}: ${why}.`, { name: "ConfigError", exitCode: ExitCode.usage, hint: "Paths under temporal.tls are relative to the config file; the setting may also come from TEMPORAL_TLS_* or a temporal.toml profile." });
    }
  };
  const clientCert = pem(tls.clientCert, "clientCertPath");
  const clientKey = pem(tls.clientKey, "clientKeyPath");
  const serverRootCACertificate = pem(tls.serverRootCaCert, "serverRootCaCertPath");
  return {
    ...common,
    tls: {
      ...(tls.serverName !== undefined ? { serverNameOverride: tls.serverName } : {}),
      ...(serverRootCACertificate ? { serverRootCACertificate } : {}),
      ...(clientCert && clientKey ? { clientCertPair: { crt: clientCert, key: clientKey } } : {}),
    },
  };
}

/**
 * The Web UI's base: the configured one (`DURAGENT_TEMPORAL_UI`), Temporal Cloud's for a Cloud
 * address, a dev server's on this machine (the port `duragent dev` says it serves its UI on, or
 * `temporal server start-dev`'s default, its gRPC port + 1000: :7299 has its UI at :8299), else
 * the server's host at 8080, where Temporal's UI image listens.
 */
export function webUiBase(temporal: DuragentConfig["temporal"]): string {
  if (temporal.uiUrl) return temporal.uiUrl.replace(/\/$/, "");
  if (/\.tmprl\.cloud(:\d+)?$/.test(temporal.address)) return "https://cloud.temporal.io";
  const local = /^(localhost|127\.0\.0\.1|\[::1\]):(\d+)$/.exec(temporal.address);
  if (local) {
    const told = devServerUi(Number(local[2]));
    if (told) return told;
    const port = Number(local[2]) + 1000;
    return `http://localhost:${port <= 65535 ? port : 8233}`;
  }
  const host = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(temporal.address)?.[1];
  return host ? `http://${host}:8080` : "http://localhost:8233";
}

/** The Web UI page of one run. */
export function webUiLink(temporal: DuragentConfig["temporal"], workflowId: string): string {
  return `${webUiBase(temporal)}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** A schedule's page in the Web UI. */
export function scheduleUiLink(temporal: DuragentConfig["temporal"], scheduleId: string): string {
  return `${webUiBase(temporal)}/namespaces/${encodeURIComponent(temporal.namespace)}/schedules/${encodeURIComponent(scheduleId)}`;
}

/** Where `duragent dev` tells other commands on this machine its Web UI's address, by its gRPC port. */
function devServerFile(port: number): string {
  return join(tmpdir(), "duragent-dev", `${port}.json`);
}

/** Tells commands on this machine where a dev server's Web UI is (`dev --ui-port`, which no guess finds); the function returned takes it back. */
export function announceDevServerUi(port: number, uiUrl: string): () => void {
  const file = devServerFile(port);
  try {
    mkdirSync(join(tmpdir(), "duragent-dev"), { recursive: true });
    writeFileSync(file, JSON.stringify({ uiUrl, pid: process.pid }));
  } catch {
    // Links then fall back to the guess; nothing else depends on it.
  }
  return () => rmSync(file, { force: true });
}

/** The Web UI a `duragent dev` still running serves for this gRPC port, if one said so. */
function devServerUi(port: number): string | undefined {
  try {
    const { uiUrl, pid } = JSON.parse(readFileSync(devServerFile(port), "utf8")) as { uiUrl?: unknown; pid?: unknown };
    if (typeof uiUrl !== "string" || typeof pid !== "number") return undefined;
    // Throws when that dev has gone (a crash left the file behind).
    process.kill(pid, 0);
    return uiUrl.replace(/\/$/, "");
  } catch {
    return undefined;
  }
}
