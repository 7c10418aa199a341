import { DefaultLogger, Runtime } from "@temporalio/worker";
Runtime.install({ logger: new DefaultLogger("ERROR"), telemetryOptions: { logging: { filter: "error", forward: {} } } });
setTimeout(() => { console.log((process as any)._getActiveHandles().map((h: any) => h.constructor?.name)); }, 1000);
