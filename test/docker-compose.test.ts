/**
 * docker-compose.yml cannot run here (no Docker engine), so check that it parses and hangs
 * together: every service it names, the images and their versions, the files it mounts, the
 * dependencies, the ports the README gives, the commands duragent is run with, and the configs of
 * the OpenTelemetry Collector, Prometheus and the codec proxy against the services they point at.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { buildProgram } from "../src/cli/main.js";
import { webUiBase, webUiLink } from "../src/client/temporal-connection.js";
import { loadConfig } from "../src/config/load-config.js";

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test?: string[] };
  deploy?: { replicas?: number };
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");
const compose = parse(read("docker-compose.yml")) as ComposeFile;
const services = compose.services;
const service = (name: string): Service => {
  const found = services[name];
  assert.ok(found, `docker-compose.yml has a ${name} service`);
  return found;
};
const env = (name: string): Record<string, string> => service(name).environment ?? {};

/** `${NAME:-default}` / `${NAME:?message}` as compose writes them; the variable's name. */
const composeVariable = (value: string | undefined) => /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[-?][^}]*)?\}$/.exec(value ?? "")?.[1];

/** Bind mounts (`./host:/container[:ro]`) of a service, host paths relative to the repository. */
function bindMounts(name: string): { host: string; container: string }[] {
  return (service(name).volumes ?? [])
    .filter((volume) => volume.startsWith("./"))
    .map((volume) => {
      const [host, container] = volume.split(":");
      return { host: host!.slice(2), container: container! };
    });
}

/** Published ports as `{ hostIp?, host, container }`. */
function publishedPorts(name: string): { hostIp?: string; host: number; container: number }[] {
  return (service(name).ports ?? []).map((spec) => {
    const parts = String(spec).split(":");
    const container = Number(parts.at(-1));
    const host = Number(parts.at(-2));
    return parts.length === 3 ? { hostIp: parts[0]!, host, container } : { host, container };
  });
}

/** The host port that reaches `container` in service `name`. */
function hostPort(name: string, container: number): number {
  const port = publishedPorts(name).find((p) => p.container === container);
  assert.ok(port, `${name} publishes its port ${container}`);
  return port.host;
}

function dependencies(service: Service): [string, string][] {
  const dependsOn = service.depends_on ?? [];
  return Array.isArray(dependsOn) ? dependsOn.map((name) => [name, "service_started"]) : Object.entries(dependsOn).map(([name, d]) => [name, d.condition ?? "service_started"]);
}

/** The value following `flag` in a command. */
function flagValues(command: string[], flag: string): string[] {
  return command.flatMap((arg, i) => (arg === flag && command[i + 1] !== undefined ? [command[i + 1]!] : []));
}

describe("docker-compose.yml", () => {
  test("names Temporal on PostgreSQL, the Web UI, duragent's workers and codec server, and the telemetry services", () => {
    assert.deepEqual(Object.keys(services).sort(), [
      "codec-proxy",
      "codec-server",
      "otel-collector",
      "postgresql",
      "prometheus",
      "temporal",
      "temporal-namespace",
      "temporal-schema",
      "temporal-ui",
      "worker",
    ]);
  });

  test("every image is pinned to a version, and none is the retired temporalio/auto-setup", () => {
    for (const [name, { image, build }] of Object.entries(services)) {
      if (image === undefined) {
        assert.equal(build, ".", `${name} has neither an image nor this repository's Dockerfile`);
        continue;
      }
      const tag = /^[^:@\s]+(?::([^@\s]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
      assert.ok(tag && tag !== "latest" && /\d/.test(tag), `${name}: ${image} is pinned to a version`);
      assert.doesNotMatch(image, /^temporalio\/auto-setup\b/, `${name} uses the deprecated auto-setup image`);
    }
  });

  test("Temporal: admin-tools sets the schema up once, temporalio/server runs, a one-shot waits for health and makes the namespace", () => {
    const server = service("temporal");
    const schema = service("temporal-schema");
    const namespace = service("temporal-namespace");
    const version = /^temporalio\/server:(.+)$/.exec(server.image!)?.[1];
    assert.ok(version, "the server is temporalio/server");
    // Schema and tools of the server's own version.
    assert.equal(schema.image, `temporalio/admin-tools:${version}`);
    assert.equal(namespace.image, `temporalio/admin-tools:${version}`);
    assert.deepEqual(dependencies(schema), [["postgresql", "service_healthy"]]);
    assert.deepEqual(dependencies(server), [["temporal-schema", "service_completed_successfully"]]);
    assert.deepEqual(dependencies(namespace), [["temporal", "service_healthy"]]);
    assert.ok(dependencies(service("worker")).some(([name, condition]) => name === "temporal-namespace" && condition === "service_completed_successfully"), "workers start once the namespace exists");

    // The server's SQL persistence points at the postgresql service, and listens beyond loopback.
    assert.equal(env("temporal").DB, "postgres12");
    assert.equal(env("temporal").POSTGRES_SEEDS, "postgresql");
    assert.equal(env("temporal-schema").POSTGRES_SEEDS, "postgresql");
    assert.equal(env("temporal").BIND_ON_IP, "0.0.0.0");
    assert.equal(env("temporal").POSTGRES_USER, env("postgresql").POSTGRES_USER);
    assert.equal(env("temporal").POSTGRES_PWD, env("postgresql").POSTGRES_PASSWORD);
    assert.equal(env("temporal-schema").SQL_PASSWORD, env("postgresql").POSTGRES_PASSWORD);
    const dynamicConfig = bindMounts("temporal").find((m) => m.container === env("temporal").DYNAMIC_CONFIG_FILE_PATH);
    assert.ok(dynamicConfig, "the dynamic config file is mounted where DYNAMIC_CONFIG_FILE_PATH points");
    assert.ok(parse(read(dynamicConfig.host))["system.forceSearchAttributesCacheRefreshOnRead"], "search attributes registered by a worker are usable at once");

    // Health checks run tools the images have: busybox nc in the server image, the Temporal CLI in admin-tools.
    assert.deepEqual(server.healthcheck?.test, ["CMD", "nc", "-z", "127.0.0.1", "7233"]);
    const schemaScript = read("deploy/temporal-schema.sh");
    assert.match(schemaScript, /temporal-sql-tool --plugin postgres12/);
    for (const step of ["create", "setup-schema -v 0.0", "update-schema -d"]) assert.ok(schemaScript.includes(step), `the schema script runs ${step}`);
    const namespaceScript = read("deploy/temporal-namespace.sh");
    assert.match(namespaceScript, /temporal operator cluster health/);
    assert.match(namespaceScript, /temporal operator namespace create/);
    assert.equal(env("temporal-namespace").TEMPORAL_NAMESPACE, "default");
    // Each one-shot runs the script mounted into it.
    for (const name of ["temporal-schema", "temporal-namespace"]) {
      const [shell, script] = service(name).command ?? [];
      assert.equal(shell, "sh");
      assert.ok(bindMounts(name).some((m) => m.container === script), `${name} runs ${script}, which it mounts`);
    }
  });

  test("every file it mounts exists, and every service depended on exists (with a health check when waited on)", () => {
    const namedVolumes = Object.keys(compose.volumes ?? {});
    for (const [name, svc] of Object.entries(services)) {
      for (const volume of svc.volumes ?? []) {
        if (volume.startsWith("./")) {
          const host = volume.split(":")[0]!.slice(2);
          assert.ok(existsSync(join(root, host)) && statSync(join(root, host)).isFile(), `${name} mounts ${host}, which is not a file in the repository`);
        } else {
          assert.ok(namedVolumes.includes(volume.split(":")[0]!), `${name} mounts an undeclared volume: ${volume}`);
        }
      }
      for (const [dependency, condition] of dependencies(svc)) {
        assert.ok(services[dependency], `${name} depends on missing service ${dependency}`);
        assert.ok(["service_started", "service_healthy", "service_completed_successfully"].includes(condition), `${name}: unknown condition ${condition}`);
        if (condition === "service_healthy") assert.ok(services[dependency]!.healthcheck?.test, `${name} waits for ${dependency} to be healthy, which has no health check`);
      }
    }
  });

  test("the ports the README gives are the ones it publishes", () => {
    const readme = read("README.md");
    const section = /^## Deploying\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1];
    assert.ok(section, "README has a Deploying section");
    const mentioned = new Set([...section.matchAll(/localhost:(\d{2,5})/g)].map((m) => Number(m[1])));
    const published = new Set(Object.keys(services).flatMap((name) => publishedPorts(name).map((p) => p.host)));
    assert.deepEqual([...mentioned].sort(), [...published].sort(), "README's Deploying section and the published ports differ");
    // The proxy that adds the codec token serves this machine only.
    assert.deepEqual(publishedPorts("codec-proxy").map((p) => p.hostIp), ["127.0.0.1"]);
  });

  test("the worker serves the prebuilt bundle and Prometheus metrics, and finds Temporal as Temporal's own tools do", () => {
    const worker = service("worker");
    assert.equal(worker.build, ".", "the worker is built from this repository");
    assert.ok((worker.deploy?.replicas ?? 1) >= 2, "more than one worker");
    const dockerfile = read("Dockerfile");
    const bundle = /duragent\.js --config \S+ build --out (\S+)/.exec(dockerfile)?.[1];
    assert.ok(bundle, "the Dockerfile prebuilds the workflow bundle");
    assert.deepEqual(worker.command, ["node", "bin/duragent.js", "worker", "--bundle", bundle, "--metrics", "0.0.0.0:9464", "--health", "0.0.0.0:8081"]);
    // Its health check asks the readiness probe the command serves.
    assert.match(JSON.stringify(worker.healthcheck?.test), /127\.0\.0\.1:8081\/readyz/);
    assert.equal(env("worker").TEMPORAL_ADDRESS, "temporal:7233");
    assert.equal(env("temporal-ui").TEMPORAL_ADDRESS, "temporal:7233");
    assert.ok(existsSync(join(root, env("worker").DURAGENT_CONFIG!.replace(/^\/app\//, ""))), "the worker's DURAGENT_CONFIG is a file the image copies");
  });

  test("every flag it passes to duragent is one the CLI knows", () => {
    const program = buildProgram();
    const globals = program.options.map((o) => o.long);
    for (const [name, svc] of Object.entries(services)) {
      const command = svc.command ?? [];
      if (command[1] !== "bin/duragent.js") continue;
      const args = command.slice(2);
      const sub = program.commands.find((c) => args.includes(c.name()));
      assert.ok(sub, `${name} runs a duragent command`);
      const known = [...globals, ...sub.options.map((o) => o.long)];
      for (const flag of args.filter((a) => a.startsWith("--"))) assert.ok(known.includes(flag), `${name}: duragent ${sub.name()} has no ${flag}`);
    }
  });

  test("Prometheus scrapes every worker replica's --metrics port, the collector and the Temporal server", () => {
    const prometheus = service("prometheus");
    assert.ok(bindMounts("prometheus").some((m) => m.host === "deploy/prometheus.yml" && m.container === "/etc/prometheus/prometheus.yml"), "prometheus mounts deploy/prometheus.yml as its config");
    assert.ok(prometheus.healthcheck?.test?.includes("wget"), "the health check uses the image's busybox wget");
    assert.equal(hostPort("prometheus", 9090), 9090);
    type Job = { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; type: string; port: number }[] };
    const jobs = (parse(read("deploy/prometheus.yml")) as { scrape_configs: Job[] }).scrape_configs;
    const job = (name: string) => jobs.find((j) => j.job_name === name) ?? assert.fail(`prometheus.yml has no ${name} job`);
    // DNS discovery: the service name resolves to every replica, where a static target would reach one at random.
    const metricsPort = Number(flagValues(service("worker").command!, "--metrics")[0]!.split(":")[1]);
    assert.deepEqual(job("duragent-worker").dns_sd_configs, [{ names: ["worker"], type: "A", port: metricsPort, refresh_interval: "30s" }]);
    const collectorConfig = parse(read("deploy/otel-collector.yaml")) as { exporters: { prometheus: { endpoint: string } } };
    const collectorMetricsPort = collectorConfig.exporters.prometheus.endpoint.split(":")[1];
    assert.deepEqual(job("otel-collector").static_configs, [{ targets: [`otel-collector:${collectorMetricsPort}`] }]);
    const serverMetricsPort = env("temporal").PROMETHEUS_ENDPOINT!.split(":")[1];
    assert.deepEqual(job("temporal-server").static_configs, [{ targets: [`temporal:${serverMetricsPort}`] }]);
  });

  test("workers send OTLP to the collector, whose config is complete", () => {
    assert.ok(bindMounts("otel-collector").some((m) => m.host === "deploy/otel-collector.yaml" && m.container === "/etc/otelcol-contrib/config.yaml"), "the collector mounts deploy/otel-collector.yaml as its config");
    assert.deepEqual(service("otel-collector").command, ["--config=/etc/otelcol-contrib/config.yaml"]);
    assert.match(service("otel-collector").image!, /^otel\/opentelemetry-collector-contrib:/);
    type Collector = {
      receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
      processors?: Record<string, unknown>;
      connectors?: Record<string, unknown>;
      exporters: Record<string, unknown>;
      service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
    };
    const collector = parse(read("deploy/otel-collector.yaml")) as Collector;
    const { grpc, http } = collector.receivers.otlp.protocols;
    // In a container the receivers must listen on every interface (the collector's default is localhost).
    assert.equal(grpc.endpoint, "0.0.0.0:4317");
    assert.equal(http.endpoint, "0.0.0.0:4318");
    assert.equal(hostPort("otel-collector", 4317), 4317);
    assert.equal(hostPort("otel-collector", 4318), 4318);
    assert.ok("debug" in collector.exporters && "prometheus" in collector.exporters, "the collector has the debug and prometheus exporters");
    for (const [name, pipeline] of Object.entries(collector.service.pipelines)) {
      const defined = (kind: keyof Collector, id: string) => Object.hasOwn((collector[kind] as Record<string, unknown> | undefined) ?? {}, id);
      for (const id of pipeline.receivers) assert.ok(defined("receivers", id) || defined("connectors", id), `${name} pipeline: receiver ${id} is not defined`);
      for (const id of pipeline.processors ?? []) assert.ok(defined("processors", id), `${name} pipeline: processor ${id} is not defined`);
      for (const id of pipeline.exporters) assert.ok(defined("exporters", id) || defined("connectors", id), `${name} pipeline: exporter ${id} is not defined`);
    }
    assert.ok(collector.service.pipelines.traces?.exporters.includes("debug"), "traces reach the debug exporter");

    // OTLP over HTTP (duragent's default protocol) to the collector's HTTP receiver.
    assert.equal(env("worker").OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf");
    const endpoint = new URL(env("worker").OTEL_EXPORTER_OTLP_ENDPOINT!);
    assert.equal(endpoint.hostname, "otel-collector");
    assert.equal(endpoint.port, http.endpoint.split(":")[1]);
  });

  test("the codec server decrypts with the workers' keys, and the Web UI reaches it through the loopback proxy", () => {
    const codec = service("codec-server");
    assert.equal(codec.build, ".", "the codec server runs this repository's image");
    const command = codec.command!;
    assert.deepEqual(command.slice(0, 3), ["node", "bin/duragent.js", "codec-server"]);
    assert.deepEqual(flagValues(command, "--host"), ["0.0.0.0"]);
    const codecPort = Number(flagValues(command, "--port")[0]);
    // Beyond loopback the codec server demands a token; it reads DURAGENT_CODEC_TOKEN, from .env, never a default.
    assert.deepEqual(flagValues(command, "--token"), [], "the token stays out of the command line");
    assert.equal(composeVariable(env("codec-server").DURAGENT_CODEC_TOKEN), "DURAGENT_CODEC_TOKEN");
    assert.match(env("codec-server").DURAGENT_CODEC_TOKEN!, /:\?/, "compose refuses to start without a token");

    // The same codec: overlay, at the same place, for the workers (who encrypt) and the codec server.
    const overlay = "deploy/duragent.codec.yaml";
    for (const name of ["worker", "codec-server"]) {
      assert.equal(env(name).DURAGENT_CONFIG, env("worker").DURAGENT_CONFIG);
      const target = join(env(name).DURAGENT_CONFIG!, "..", "duragent.secrets.yaml");
      assert.ok(bindMounts(name).some((m) => m.host === overlay && m.container === target), `${name} mounts ${overlay} as ${target}`);
    }
    const keys = (parse(read(overlay)) as { codec: { keys: { id: string; env?: string; file?: string }[] } }).codec.keys;
    assert.ok(keys.length > 0, "the codec overlay lists a key");
    for (const key of keys) {
      assert.ok(key.env, `key ${key.id} comes from the environment`);
      for (const name of ["worker", "codec-server"]) assert.equal(composeVariable(env(name)[key.env]), key.env, `${name} gets ${key.env} from .env`);
    }

    // The Web UI calls the codec endpoint from the browser: the proxy on the host's loopback, which adds the token.
    const uiPort = hostPort("temporal-ui", 8080);
    const proxyPort = hostPort("codec-proxy", 8888);
    assert.equal(env("temporal-ui").TEMPORAL_CODEC_ENDPOINT, `http://localhost:${proxyPort}`);
    assert.ok(flagValues(command, "--origin").includes(`http://localhost:${uiPort}`), "the codec server lets the Web UI's origin call it");
    const proxy = service("codec-proxy");
    assert.match(proxy.image!, /^nginx:/);
    assert.deepEqual(dependencies(proxy), [["codec-server", "service_healthy"]]);
    assert.ok(bindMounts("codec-proxy").some((m) => m.host === "deploy/codec-proxy.conf.template" && m.container === "/etc/nginx/templates/default.conf.template"), "the proxy mounts its config template");
    const template = read("deploy/codec-proxy.conf.template");
    assert.match(template, new RegExp(`listen ${8888};`));
    assert.match(template, new RegExp(`proxy_pass http://codec-server:${codecPort};`));
    assert.match(template, /proxy_set_header Authorization "Bearer \$\{DURAGENT_CODEC_TOKEN\}";/);
    assert.equal(composeVariable(env("codec-proxy").DURAGENT_CODEC_TOKEN), "DURAGENT_CODEC_TOKEN");
    assert.equal(env("codec-proxy").NGINX_ENVSUBST_FILTER, "DURAGENT_CODEC_TOKEN", "nginx's own $variables are left alone");
  });

  test("the Web UI links the CLI prints follow the compose UI port (DURAGENT_TEMPORAL_UI)", async () => {
    const uiPort = hostPort("temporal-ui", 8080);
    const ui = `http://localhost:${uiPort}`;
    assert.equal(env("worker").DURAGENT_TEMPORAL_UI, ui);
    // The config the worker container loads, with its codec overlay, in the worker's environment.
    const dir = mkdtempSync(join(tmpdir(), "duragent-compose-"));
    try {
      copyFileSync(join(root, "examples/finder/duragent.config.yaml"), join(dir, "duragent.config.yaml"));
      copyFileSync(join(root, "deploy/duragent.codec.yaml"), join(dir, "duragent.secrets.yaml"));
      const workerEnv = Object.fromEntries(Object.entries(env("worker")).filter(([, value]) => composeVariable(value) === undefined));
      const { config } = await loadConfig({ path: dir, env: workerEnv });
      // A uiUrl in the file would win over the variable, so the file must leave it out.
      assert.equal(webUiBase(config.temporal), ui);
      assert.equal(webUiLink(config.temporal, "run-1"), `${ui}/namespaces/default/workflows/run-1`);
      assert.equal(config.temporal.address, "temporal:7233");
      assert.deepEqual(config.codec?.keys.map((k) => k.env), ["DURAGENT_CODEC_KEY"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
