/**
 * Decides what telemetry a process sends, from the config's `telemetry:` section and the standard
 * OpenTelemetry environment variables. Pure: starting exporters is tracing.ts's job.
 *
 * Tracing is off unless something asks for it (an endpoint in the config or in
 * OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, OTEL_TRACES_EXPORTER=otlp, or tracing.enabled: true), so
 * a process with nothing configured loads no SDK and exports nothing.
 */
import type { DuragentConfig } from "../config/schema.js";

export interface TracingSettings {
  protocol: "http/protobuf" | "grpc";
  /** The traces endpoint in full; undefined lets the exporter read OTEL_EXPORTER_OTLP_* itself. */
  url?: string;
  serviceName: string;
  captureContent: boolean;
}

export type ProcessRole = "worker" | "client";

export function tracingSettings(config: DuragentConfig, role: ProcessRole, env: NodeJS.ProcessEnv = process.env): TracingSettings | undefined {
  const tracing = config.telemetry.tracing;
  if (tracing.enabled === false || env.OTEL_SDK_DISABLED?.toLowerCase() === "true") return undefined;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "").split(",").map((name) => name.trim().toLowerCase());
  if (exporters.includes("none")) return undefined;
  const envEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const wanted = tracing.enabled === true || tracing.endpoint !== undefined || Boolean(envEndpoint) || exporters.includes("otlp");
  if (!wanted) return undefined;
  const envProtocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  const protocol = envProtocol === "grpc" ? "grpc" : envProtocol?.startsWith("http/") ? "http/protobuf" : (tracing.protocol ?? "http/protobuf");
  // The environment wins, as the OTel specification has it; the exporters read it themselves.
  const url = envEndpoint || tracing.endpoint === undefined ? undefined : tracesUrl(tracing.endpoint, protocol);
  return {
    protocol,
    ...(url ? { url } : {}),
    serviceName: env.OTEL_SERVICE_NAME || tracing.serviceName || `duragent-${role}`,
    captureContent: tracing.captureContent || env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.toLowerCase() === "true",
  };
}

/** OTLP/HTTP posts traces to `<base>/v1/traces`; OTLP/gRPC takes the base itself. */
function tracesUrl(base: string, protocol: TracingSettings["protocol"]): string {
  if (protocol === "grpc") return base;
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

/** Where a worker serves Prometheus metrics: the `--metrics` flag over the config; undefined for none. */
export function prometheusAddress(config: DuragentConfig, flag?: string): string | undefined {
  return flag ?? config.telemetry.metrics.prometheus;
}
