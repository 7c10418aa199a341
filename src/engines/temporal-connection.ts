/** Connection options for the configured Temporal cluster, shared by the client and the worker. */
import { readFileSync } from "node:fs";
import type { TLSConfig } from "@temporalio/client";
import type { DuragentConfig } from "../config/schema.js";

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export function temporalConnectionOptions(temporal: DuragentConfig["temporal"]): TemporalConnectionOptions {
  const { address, apiKey, tls } = temporal;
  if (tls === undefined || typeof tls === "boolean") {
    // An API key means a remote cluster, which always wants TLS.
    return { address, apiKey, tls: tls ?? (apiKey ? true : undefined) };
  }
  const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const clientCert = read(tls.clientCertPath);
  const clientKey = read(tls.clientKeyPath);
  return {
    address,
    apiKey,
    tls: {
      serverNameOverride: tls.serverName,
      serverRootCACertificate: read(tls.serverRootCaCertPath),
      clientCertPair: clientCert && clientKey ? { crt: clientCert, key: clientKey } : undefined,
    },
  };
}

/** The Web UI page of one run. */
export function webUiLink(temporal: DuragentConfig["temporal"], workflowId: string): string {
  const base = temporal.uiUrl.replace(/\/$/, "");
  return `${base}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
