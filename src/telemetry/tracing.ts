/**
 * Starts OpenTelemetry tracing for one process: a tracer provider with a batching OTLP exporter,
 * registered globally, so Temporal's interceptors, duragent's model and MCP spans and the W3C
 * context they travel with all use it. Loaded only when tracing is on (settings.ts decides).
 */
import { Resource } from "@opentelemetry/resources";
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { duragentVersion } from "../package-info.js";
import type { TracingSettings } from "./settings.js";

export interface Tracing {
  readonly settings: TracingSettings;
  readonly resource: Resource;
  readonly spanProcessor: SpanProcessor;
  /** Sends what is buffered; call before the process exits. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let started: Tracing | undefined;

/** The process's tracing, started on first call; later calls return the same one. */
export async function startTracing(settings: TracingSettings): Promise<Tracing> {
  if (started) return started;
  const resource = new Resource({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: duragentVersion });
  const spanProcessor = new BatchSpanProcessor(await exporterFor(settings), { scheduledDelayMillis: 1_000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  started = {
    settings,
    resource,
    spanProcessor,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
  return started;
}

/** The tracing this process started, if any. */
export function currentTracing(): Tracing | undefined {
  return started;
}

async function exporterFor(settings: TracingSettings): Promise<SpanExporter> {
  const options = settings.url ? { url: settings.url } : {};
  if (settings.protocol === "grpc") {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-grpc");
    return new OTLPTraceExporter(options);
  }
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
  return new OTLPTraceExporter(options);
}
