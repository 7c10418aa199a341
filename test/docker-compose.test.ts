/** docker-compose.yml cannot run here (no Docker engine), so check that it parses and is complete. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";

interface ComposeFile {
  services: Record<string, { image?: string; build?: unknown; depends_on?: unknown; environment?: Record<string, string>; command?: string[] }>;
}

test("docker-compose.yml names Temporal, PostgreSQL, the Web UI and a duragent worker", () => {
  const compose = parse(readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8")) as ComposeFile;
  const services = compose.services;
  assert.deepEqual(Object.keys(services).sort(), ["postgresql", "temporal", "temporal-ui", "worker"]);
  assert.match(services.postgresql!.image!, /^postgres:/);
  assert.match(services.temporal!.image!, /^temporalio\/auto-setup:/);
  assert.equal(services.temporal!.environment!.POSTGRES_SEEDS, "postgresql");
  assert.match(services["temporal-ui"]!.image!, /^temporalio\/ui:/);
  assert.equal(services["temporal-ui"]!.environment!.TEMPORAL_ADDRESS, "temporal:7233");
  assert.ok(services.worker!.build, "the worker is built from this repository");
  // The worker serves the bundle the Dockerfile prebuilds, and finds Temporal as Temporal's own tools do.
  const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
  const bundle = /duragent\.js --config \S+ build --out (\S+)/.exec(dockerfile)?.[1];
  assert.ok(bundle, "the Dockerfile prebuilds the workflow bundle");
  assert.deepEqual(services.worker!.command, ["node", "bin/duragent.js", "worker", "--bundle", bundle]);
  assert.equal(services.worker!.environment!.TEMPORAL_ADDRESS, "temporal:7233");
  // Every service a service depends on exists.
  for (const [name, service] of Object.entries(services)) {
    const dependencies = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
    for (const dependency of dependencies) assert.ok(services[dependency], `${name} depends on missing service ${dependency}`);
  }
});
