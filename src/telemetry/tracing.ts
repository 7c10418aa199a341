/**
 * Starts OpenTelemetry tracing for one process: a tracer provider with a batching OTLP exporter,
 * registered globally, so Temporal's interceptors, duragent's model and MCP spans and the W3C
 * context they travel with all use it. Loaded only when tracing is on (settings.ts decides).
 */
import { trace } from "@opentelemetry/api";
import type { WorkflowClientInterceptor } from "@temporalio/client";
import { RunMessages } from "../common/run-status.js";
import type { OpenTelemetryWorkflowExporter } from "@temporalio/interceptors-opentelemetry";
import type { InjectedSink } from "@temporalio/worker";
import { detectResourcesSync, envDetectorSync, hostDetectorSync, Resource } from "@opentelemetry/resources";
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
  // OTEL_RESOURCE_ATTRIBUTES and the host over duragent's defaults. Not the process detector: its
  // command line would put a CLI's arguments (an input, a token) on every span.
  const detected = detectResourcesSync({ detectors: [hostDetectorSync, envDetectorSync] });
  const resource = new Resource({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: duragentVersion }).merge(detected);
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

/**
 * Temporal's client interceptor, with status reads (queries, describes, and the `duragent.watch`
 * signal a first read sends) traced only inside a trace already begun: on their own, every poll
 * of `run` or `watch` was a one-span trace.
 */
export async function clientTraceInterceptor(): Promise<WorkflowClientInterceptor> {
  const { OpenTelemetryWorkflowClientInterceptor } = await import("@temporalio/interceptors-opentelemetry");
  const traced = new OpenTelemetryWorkflowClientInterceptor();
  const inTrace = () => trace.getActiveSpan() !== undefined;
  const quiet: WorkflowClientInterceptor = {
    query: (input, next) => (inTrace() ? traced.query(input, next) : next(input)),
    describe: (input, next) => (inTrace() ? traced.describe(input, next) : next(input)),
    signal: (input, next) => (inTrace() || input.signalName !== RunMessages.watch ? traced.signal(input, next) : next(input)),
  };
  // Everything else as Temporal traces it.
  return Object.assign(Object.create(traced) as WorkflowClientInterceptor, quiet);
}

/** What a workflow span carries of its run (Temporal's exporter would add all of WorkflowInfo). */
const workflowSpanFields = ["namespace", "taskQueue", "workflowId", "runId", "workflowType", "attempt"] as const;

/**
 * The sink that exports workflow spans, with only the run's ids from WorkflowInfo on them: the
 * whole of it is ~40 attributes a span, among them the memo and a previous run's result and
 * failure, decoded, which would bypass the codec and `captureContent`.
 */
export async function workflowSpanSink(tracing: Tracing): Promise<InjectedSink<OpenTelemetryWorkflowExporter>> {
  const { makeWorkflowExporter } = await import("@temporalio/interceptors-opentelemetry");
  const exporter = makeWorkflowExporter(tracing.spanProcessor, tracing.resource);
  return {
    export: {
      ...exporter.export,
      fn: (info, spans) => {
        const kept: Partial<Pick<typeof info, (typeof workflowSpanFields)[number]>> = {};
        for (const field of workflowSpanFields) Object.assign(kept, { [field]: info[field] });
        // Temporal's exporter only copies the fields onto each span; it reads none of them.
        exporter.export.fn(kept as typeof info, spans);
      },
    },
  };
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
