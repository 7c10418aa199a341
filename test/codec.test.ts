/**
 * Encrypted payloads: the AES-256-GCM codec on its own (round trip, compression, tampering, key
 * rotation, unknown keys), key loading from the config, the codec server's protocol and guards,
 * and, on a dedicated Temporal dev server with a database file, runs whose prompt, tool result,
 * question and answer appear neither in their history nor in that file, next to an unencrypted
 * run whose text does (so the absence means something). A run started before a key rotation
 * finishes after it, and the codec server decodes a history for the Web UI and the Temporal CLI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { Client, Connection } from "@temporalio/client";
import { defaultPayloadConverter, type Payload } from "@temporalio/common";
import { main } from "../src/cli/main.js";
import { codecServerCommand } from "../src/cli/commands/codec-server.js";
import { CommandContext } from "../src/cli/context.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { AesGcmCodec, PayloadDecryptionError, type CodecKey } from "../src/codec/aes-gcm-codec.js";
import { startCodecServer, type CodecServer } from "../src/codec/codec-server.js";
import { readCodecKeys } from "../src/codec/codec-keys.js";
import { payloadCodecFor } from "../src/codec/data-converter.js";
import { textOf } from "../src/common/messages.js";
import { duragentSearchAttributes } from "../src/common/search-attributes.js";
import { loadConfig, runSettingsFromConfig } from "../src/config/load-config.js";
import { ConfigError, isUserError } from "../src/errors/user-error.js";
import { createLogger } from "../src/logger.js";
import { startDevServer, type DevServer } from "../src/temporal/dev-server.js";
import { findTemporalCli } from "../src/temporal/temporal-cli.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { createWorker, type DuragentWorker } from "../src/worker.js";
import { installRuntimeLogging } from "../src/worker/create-worker.js";
import { historyText } from "./support/histories.js";
import { filesystemServer } from "./support/mcp-servers.js";
import { builtinBundle, testConfig } from "./support/runtime.js";
import { waitFor, waitForPhase } from "./support/wait.js";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-codec-")));
after(() => rmSync(dir, { recursive: true, force: true }));

const key = (id: string): CodecKey => ({ id, key: randomBytes(32) });
const jsonPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const text = (payload: Payload): string => Buffer.from(payload.data ?? new Uint8Array()).toString("utf8");
const metadataText = (payload: Payload, name: string): string | undefined => {
  const value = payload.metadata?.[name];
  return value ? Buffer.from(value).toString("utf8") : undefined;
};

describe("the AES-256-GCM payload codec", () => {
  test("encrypts the whole payload under the encrypting key's id and decrypts it back", async () => {
    const codec = new AesGcmCodec([key("k1")]);
    const original = jsonPayload({ prompt: "the launch code is 1234" });
    const [encrypted] = await codec.encode([original]);
    assert.equal(metadataText(encrypted!, "encoding"), "binary/encrypted");
    assert.equal(metadataText(encrypted!, "encryption-key-id"), "k1");
    assert.ok(!text(encrypted!).includes("launch code"));
    assert.ok(!text(encrypted!).includes("json/plain"), "the original metadata is encrypted too");
    const [decoded] = await codec.decode([encrypted!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { prompt: "the launch code is 1234" });
    // A fresh nonce each time: the same payload never encrypts to the same bytes.
    const [again] = await codec.encode([original]);
    assert.notDeepEqual(Buffer.from(again!.data!), Buffer.from(encrypted!.data!));
  });

  test("payloads that are not encrypted pass through decoding unchanged", async () => {
    const plain = jsonPayload("from before the codec was switched on");
    const [decoded] = await new AesGcmCodec([key("k1")]).decode([plain]);
    assert.equal(decoded, plain);
  });

  test("compression, when on, shrinks repetitive payloads before encryption; either setting decodes both", async () => {
    process.env.DURAGENT_TEST_COMPRESS_KEY = randomBytes(32).toString("base64");
    const keys = [{ id: "k1", env: "DURAGENT_TEST_COMPRESS_KEY" }];
    const compressed = payloadCodecFor({ keys, compress: true });
    const uncompressed = payloadCodecFor({ keys, compress: false });
    const big = jsonPayload({ transcript: "the same line again\n".repeat(2_000) });
    const [small] = await compressed.encode([big]);
    const [large] = await uncompressed.encode([big]);
    assert.ok(small!.data!.length * 10 < large!.data!.length, `${small!.data!.length} vs ${large!.data!.length}`);
    for (const codec of [compressed, uncompressed]) {
      for (const encoded of [small!, large!]) {
        const [decoded] = await codec.decode([encoded]);
        assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { transcript: "the same line again\n".repeat(2_000) });
      }
    }
    // A payload that compression would not shrink is left as it is.
    const [tiny] = await compressed.decode(await compressed.encode([jsonPayload(1)]));
    assert.equal(metadataText(tiny!, "encoding"), "json/plain");
  });

  test("altered ciphertext is refused, naming the key", async () => {
    const codec = new AesGcmCodec([key("k1")]);
    const [encrypted] = await codec.encode([jsonPayload("hello")]);
    const data = Buffer.from(encrypted!.data!);
    data[20]! ^= 1;
    await assert.rejects(codec.decode([{ ...encrypted!, data }]), (error: unknown) => {
      assert.ok(error instanceof PayloadDecryptionError && isUserError(error));
      assert.match(error.message, /Cannot decrypt a payload with key "k1": its data was altered/);
      return true;
    });
  });

  test("after a rotation the new key encrypts and the old one still decrypts", async () => {
    const [oldKey, newKey] = [key("2026-10"), key("2026-11")];
    const [old] = await new AesGcmCodec([oldKey]).encode([jsonPayload("written before")]);
    const rotated = new AesGcmCodec([oldKey, newKey], "2026-11");
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!), "written before");
    const [fresh] = await rotated.encode([jsonPayload("written after")]);
    assert.equal(metadataText(fresh!, "encryption-key-id"), "2026-11");
  });

  test("a payload under a key that is not configured fails with the key's id and the fix", async () => {
    const [old] = await new AesGcmCodec([key("2026-10")]).encode([jsonPayload("x")]);
    await assert.rejects(new AesGcmCodec([key("2026-11")]).decode([old!]), (error: unknown) => {
      assert.ok(error instanceof PayloadDecryptionError && isUserError(error));
      assert.equal(error.keyId, "2026-10");
      assert.match(error.message, /encrypted with key "2026-10": no such key in codec\.keys \(configured: "2026-11"\)/);
      assert.match(error.message, /Add the key "2026-10" to codec\.keys here \(after the current one\)\. Every client and worker needs each key in use/);
      return true;
    });
  });
});

describe("codec keys in the config", () => {
  const writeConfig = (name: string, yaml: string): string => {
    writeFileSync(join(dir, `${name}.yaml`), yaml);
    return join(dir, `${name}.yaml`);
  };

  test("keys come from an environment variable (base64) or a file (hex) relative to the config file", async () => {
    const hexKey = randomBytes(32).toString("hex");
    writeFileSync(join(dir, "k2.hex"), `${hexKey}\n`);
    const base64Key = randomBytes(32).toString("base64");
    const path = writeConfig("keys", "codec:\n  keys:\n    - { id: k1, env: CODEC_KEY_ONE }\n    - { id: k2, file: ./k2.hex }\n  encryptWith: k2\n");
    const { config } = await loadConfig({ path, env: {} });
    assert.equal(config.codec?.keys[1]?.file, join(dir, "k2.hex"));
    const keys = readCodecKeys(config.codec!, { CODEC_KEY_ONE: base64Key });
    assert.deepEqual(
      keys.map(({ id, key }) => [id, Buffer.from(key).toString("hex")]),
      [
        ["k1", Buffer.from(base64Key, "base64").toString("hex")],
        ["k2", hexKey],
      ],
    );
  });

  test("a missing variable, an unreadable file or a wrong-length key is a user error naming the entry, never the key", () => {
    const codec = (entry: { env: string } | { file: string }) => ({ keys: [{ id: "k1", ...entry }], compress: false });
    const failsWith = (run: () => unknown, pattern: RegExp) =>
      assert.throws(run, (error: unknown) => {
        assert.ok(isUserError(error), String(error));
        assert.match(error.message, pattern);
        return true;
      });
    failsWith(() => readCodecKeys(codec({ env: "NO_SUCH_KEY" }), {}), /codec\.keys\.0 \("k1"\): the environment variable NO_SUCH_KEY is not set\.\n.*openssl rand -base64 32/);
    failsWith(() => readCodecKeys(codec({ file: join(dir, "missing.key") }), {}), /codec\.keys\.0 \("k1"\): cannot read the key file .*missing\.key \(ENOENT\)/);
    const short = randomBytes(16).toString("base64");
    failsWith(() => readCodecKeys(codec({ env: "SHORT" }), { SHORT: short }), /the key in the environment variable SHORT is 16 bytes; AES-256 needs 32/);
    assert.throws(() => readCodecKeys(codec({ env: "SHORT" }), { SHORT: short }), (error: unknown) => !(error as Error).message.includes(short));
    failsWith(() => readCodecKeys(codec({ env: "ODD" }), { ODD: "not a key!" }), /is not base64 or hex text/);
  });

  test("the schema wants one source per key, unique ids and a known encryptWith", async () => {
    const path = writeConfig(
      "bad",
      "codec:\n  keys:\n    - { id: k1, env: A, file: ./a }\n    - { id: k1, env: B }\n    - { id: k3 }\n  encryptWith: k9\n",
    );
    await assert.rejects(loadConfig({ path, env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /codec\.keys\.0: give exactly one of env/);
      assert.match(error.message, /codec\.keys\.2: give exactly one of env/);
      assert.match(error.message, /codec\.keys\.1\.id: the id "k1" is used by another key too/);
      assert.match(error.message, /codec\.encryptWith: no key "k9" in codec\.keys/);
      return true;
    });
  });

  test("the CLI reports a missing key as a one-line error, before it tries to reach Temporal", async () => {
    const path = writeConfig("cli", "engine: temporal\ntemporal: { address: '127.0.0.1:1' }\ncodec:\n  keys: [{ id: k1, env: DURAGENT_TEST_UNSET_KEY }]\n");
    delete process.env.DURAGENT_TEST_UNSET_KEY;
    const errors: string[] = [];
    const original = console.error;
    console.error = (...parts: unknown[]) => void errors.push(parts.join(" "));
    try {
      assert.equal(await main(["node", "duragent", "--config", path, "status", "some-run"]), 2);
    } finally {
      console.error = original;
    }
    assert.match(errors.join("\n"), /^duragent: codec\.keys\.0 \("k1"\): the environment variable DURAGENT_TEST_UNSET_KEY is not set\./);
    assert.doesNotMatch(errors.join("\n"), /this is a bug|Cannot reach Temporal/);
  });

  test("on the memory engine, a run id looked for on Temporal reports a bad key, or an unreachable server, rather than only 'not found'", async () => {
    const status = async (yaml: string): Promise<string> => {
      const errors: string[] = [];
      const original = console.error;
      console.error = (...parts: unknown[]) => void errors.push(parts.join(" "));
      try {
        await main(["node", "duragent", "--config", writeConfig("memory-default", yaml), "status", "some-run"]);
      } finally {
        console.error = original;
      }
      return errors.join("\n");
    };
    delete process.env.DURAGENT_TEST_UNSET_KEY;
    const badKey = await status("temporal: { address: '127.0.0.1:1' }\ncodec:\n  keys: [{ id: k1, env: DURAGENT_TEST_UNSET_KEY }]\n");
    assert.match(badKey, /^duragent: codec\.keys\.0 \("k1"\): the environment variable DURAGENT_TEST_UNSET_KEY is not set\./);
    const unreachable = await status("temporal: { address: '127.0.0.1:1' }\n");
    assert.match(unreachable, /^duragent: No run 'some-run' among this process's memory runs \(.*\), and Temporal could not be asked \(Cannot reach Temporal at 127\.0\.0\.1:1: /);
  });
});

describe("the codec server", () => {
  let server: CodecServer;
  let stranger: Payload;
  const codec = new AesGcmCodec([key("k1")]);
  const origin = "http://localhost:8233";

  const warnings: string[] = [];
  const logger = { warn: (_fields: unknown, message: string) => warnings.push(message), error: () => undefined } as unknown as Parameters<typeof startCodecServer>[0]["logger"];

  before(async () => {
    server = await startCodecServer({ codec, host: "127.0.0.1", port: 0, origins: [origin, "http://127.0.0.1:8233"], token: "tok-123", logger });
    stranger = (await new AesGcmCodec([key("elsewhere")]).encode([jsonPayload("x")]))[0]!;
  });
  after(() => server.close());

  const toJson = (payload: Payload) => ({
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value).toString("base64")])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString("base64"),
  });
  const post = (path: string, payloads: Payload[], headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Namespace": "default", Authorization: "Bearer tok-123", ...headers },
      body: JSON.stringify({ payloads: payloads.map(toJson) }),
    });

  test("answers the Web UI's CORS preflight for its origin, with credentials allowed", async () => {
    const response = await fetch(`${server.url}/decode`, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-namespace,content-type,authorization" },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("access-control-allow-origin"), origin);
    assert.equal(response.headers.get("access-control-allow-credentials"), "true");
    assert.match(response.headers.get("access-control-allow-methods") ?? "", /POST/);
    for (const header of ["X-Namespace", "Content-Type", "Authorization"]) {
      assert.match(response.headers.get("access-control-allow-headers") ?? "", new RegExp(header));
    }
  });

  test("encodes and decodes, also under a namespace prefix; refuses a wrong token and a foreign origin", async () => {
    const encoded = await post("/encode", [jsonPayload("round trip")], { Origin: origin });
    assert.equal(encoded.status, 200);
    assert.equal(encoded.headers.get("access-control-allow-origin"), origin);
    const { payloads } = (await encoded.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    assert.equal(Buffer.from(payloads[0]!.metadata["encryption-key-id"]!, "base64").toString(), "k1");
    const decoded = await fetch(`${server.url}/default/decode`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer tok-123" },
      body: JSON.stringify({ payloads }),
    });
    const body = (await decoded.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    assert.equal(Buffer.from(body.payloads[0]!.data, "base64").toString(), '"round trip"');

    assert.equal((await post("/decode", [], { Authorization: "Bearer wrong" })).status, 401);
    const noToken = await fetch(`${server.url}/decode`, { method: "POST", body: JSON.stringify({ payloads: [] }) });
    assert.equal(noToken.status, 401);
    assert.match(noToken.headers.get("www-authenticate") ?? "", /Bearer/);
    assert.equal((await post("/decode", [], { Origin: "http://evil.example" })).status, 403);
    assert.equal((await fetch(`${server.url}/decode`, { method: "OPTIONS", headers: { Origin: "http://evil.example" } })).status, 403);
    assert.equal((await post("/other", [])).status, 404);
    assert.equal((await fetch(`${server.url}/decode`, { headers: { Authorization: "Bearer tok-123" } })).status, 405);
    const bad = await fetch(`${server.url}/decode`, { method: "POST", headers: { Authorization: "Bearer tok-123" }, body: "not json" });
    assert.equal(bad.status, 400);
    // Proto JSON leaves an empty list out: `temporal workflow query --codec-endpoint` sends `{}`.
    for (const empty of ["{}", '{"payloads":null}']) {
      const none = await fetch(`${server.url}/encode`, { method: "POST", headers: { Authorization: "Bearer tok-123" }, body: empty });
      assert.deepEqual([none.status, await none.json()], [200, { payloads: [] }], empty);
    }
  });

  test("a payload under an unknown key gets a 400 naming the key, and the codec server's log says so too", async () => {
    const response = await post("/decode", [stranger]);
    assert.equal(response.status, 400);
    assert.match(await response.text(), /encrypted with key "elsewhere"/);
    // The Temporal CLI shows its operator only a timeout: the log is where the cause is found.
    assert.ok(warnings.some((line) => /^codec-server: Cannot decrypt a payload encrypted with key "elsewhere"/.test(line)), warnings.join("\n"));
  });

  test("refuses to serve beyond loopback without a token", async () => {
    await assert.rejects(startCodecServer({ codec, host: "0.0.0.0", port: 0, origins: [] }), /without a token/);
  });

  test("`duragent codec-server` serves the config's keys to the configured Web UI's origins", async () => {
    process.env.DURAGENT_TEST_CLI_KEY = randomBytes(32).toString("base64");
    writeFileSync(join(dir, "duragent.config.yaml"), "temporal: { uiUrl: 'http://localhost:8080' }\ncodec:\n  keys: [{ id: cli, env: DURAGENT_TEST_CLI_KEY }]\n");
    const stop = new AbortController();
    let heard!: (listening: { url: string; origins: string[] }) => void;
    const listeningNow = new Promise<{ url: string; origins: string[] }>((resolve) => (heard = resolve));
    const serving = codecServerCommand(new CommandContext({ config: dir }), {
      host: "127.0.0.1",
      port: 0,
      origin: [],
      signal: stop.signal,
      onListening: heard,
    });
    try {
      const listening = await Promise.race([listeningNow, serving.then(() => assert.fail("the codec server stopped before it listened"))]);
      assert.deepEqual(listening.origins, ["http://localhost:8080", "http://127.0.0.1:8080"]);
      const preflight = await fetch(`${listening.url}/decode`, { method: "OPTIONS", headers: { Origin: "http://127.0.0.1:8080" } });
      assert.equal(preflight.status, 204);
      const encoded = await fetch(`${listening.url}/encode`, { method: "POST", body: JSON.stringify({ payloads: [toJson(jsonPayload("hi"))] }) });
      const { payloads } = (await encoded.json()) as { payloads: Array<{ metadata: Record<string, string> }> };
      assert.equal(Buffer.from(payloads[0]!.metadata["encryption-key-id"]!, "base64").toString(), "cli");
    } finally {
      stop.abort();
      await serving;
    }
  });
});

/** Distinct text for each thing a run carries, so each can be looked for on its own. */
function markers(tag: string) {
  const id = `${tag}-${randomUUID().slice(0, 8)}`;
  return {
    prompt: `PROMPT-${id}`,
    toolResult: `TOOL-RESULT-${id}`,
    question: `QUESTION-${id}`,
    answer: `ANSWER-${id}`,
    final: `FINAL-${id}`,
  };
}
type Markers = ReturnType<typeof markers>;

/**
 * The model reads the notes file the prompt names (the filesystem MCP server answers with its
 * text), asks a person through human_input, then answers with the person's reply.
 */
function modelScript(call: ScriptedCall): ScriptedTurn {
  const prompt = textOf(call.messages.find((message) => message.role === "user")?.content ?? "");
  const id = /PROMPT-([\w-]+)/.exec(prompt)?.[1] ?? "unknown";
  const results = call.messages.filter((message) => message.role === "tool");
  if (results.length === 0) return { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, `notes-${id}.txt`) } }] };
  if (results.length === 1) return { toolCalls: [{ name: "human_input", arguments: { question: `QUESTION-${id}: which city?` } }] };
  return { text: `FINAL-${id}: going to ${textOf(results[1]!.content)}` };
}

const agent: RunTarget = {
  kind: "agent",
  name: "keeper",
  agent: { name: "keeper", instruction: "Read the notes, then ask.", servers: ["fs"], humanInput: true },
};

/**
 * Every payload of a run's own data (`{ metadata, data }` anywhere in its events), without what
 * Temporal keeps unencoded by design: search attributes, which the server indexes, and the SDK's
 * bookkeeping in its markers (a patch id; a local activity's type and attempt), where only a local
 * activity's result is the run's data.
 */
function payloadsOf(value: unknown, found: Payload[] = []): Payload[] {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return found;
  if (Array.isArray(value)) {
    for (const item of value) payloadsOf(item, found);
    return found;
  }
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array && typeof record.metadata === "object" && record.metadata !== null) {
    found.push(record as Payload);
    return found;
  }
  if (typeof record.markerName === "string" && record.markerName.startsWith("core_")) {
    const details = record.details as Record<string, unknown> | undefined;
    return payloadsOf(details?.result, found);
  }
  for (const [name, item] of Object.entries(record)) if (name !== "searchAttributes") payloadsOf(item, found);
  return found;
}

describe("encrypted payloads on Temporal", () => {
  let server: DevServer;
  let model: ScriptedModelServer;
  let client: Client;
  const dbFile = join(dir, "temporal.db");
  const encrypted = markers("enc");
  const plain = markers("plain");
  let encryptedRunId: string;

  before(async () => {
    installRuntimeLogging();
    process.env.DURAGENT_TEST_KEY_A = randomBytes(32).toString("base64");
    writeFileSync(join(dir, "key-b.hex"), randomBytes(32).toString("hex"));
    process.env.DURAGENT_TEST_KEY_STRANGER = randomBytes(32).toString("base64");
    server = await startDevServer({
      ui: false,
      dbFile,
      searchAttributes: Object.fromEntries(duragentSearchAttributes.map((attribute) => [attribute.name, "Keyword"])),
    });
    client = new Client({ connection: await Connection.connect({ address: server.address }) });
    model = await startScriptedModelServer(modelScript);
  });

  after(async () => {
    await client?.connection.close();
    await model?.close();
    await server?.stop();
  });

  const configFor = (codec: Record<string, unknown> | undefined) =>
    testConfig(model, {
      temporal: { address: server.address, taskQueue: `codec-${randomUUID()}` },
      mcp: { servers: { fs: filesystemServer(dir) } },
      ...(codec ? { codec } : {}),
    });
  const keyA = { id: "key-a", env: "DURAGENT_TEST_KEY_A" };
  const keyB = { id: "key-b", file: join(dir, "key-b.hex") };

  async function startWorker(config: ReturnType<typeof configFor>): Promise<{ worker: DuragentWorker; running: Promise<void>; engine: TemporalEngine }> {
    const worker = await createWorker({ config, logger: createLogger("test-worker", "silent"), workflowBundle: await builtinBundle() });
    const running = worker.run();
    const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
    return { worker, running, engine };
  }

  async function stopWorker({ worker, running, engine }: Awaited<ReturnType<typeof startWorker>>): Promise<void> {
    await engine.close();
    worker.worker.shutdown();
    await running;
  }

  /** One run through a tool call and a person's answer, to completion. */
  async function answeredRun(engine: TemporalEngine, marks: Markers): Promise<string> {
    writeFileSync(join(dir, `notes-${marks.prompt.slice("PROMPT-".length)}.txt`), `The notes: ${marks.toolResult}`);
    const handle = await engine.start(agent, `${marks.prompt}: read my notes`);
    const waiting = await waitForPhase(handle, "waiting_input");
    assert.match(waiting.pending[0]!.prompt, new RegExp(marks.question));
    await handle.answer({ value: marks.answer });
    const result = (await handle.result()) as { text: string };
    assert.equal(result.text, `${marks.final}: going to ${marks.answer}`);
    return handle.runId;
  }

  test("with a key, no prompt, tool result, question or answer appears in the history; without one, all of them do", { timeout: 120_000 }, async () => {
    const withKey = await startWorker(configFor({ keys: [keyA] }));
    try {
      encryptedRunId = await answeredRun(withKey.engine, encrypted);
    } finally {
      await stopWorker(withKey);
    }
    const withoutKey = await startWorker(configFor(undefined));
    let plainRunId: string;
    try {
      plainRunId = await answeredRun(withoutKey.engine, plain);
    } finally {
      await stopWorker(withoutKey);
    }

    const encryptedHistory = await client.workflow.getHandle(encryptedRunId).fetchHistory();
    const encryptedText = historyText(encryptedHistory);
    for (const [name, value] of Object.entries(encrypted)) assert.ok(!encryptedText.includes(value), `the encrypted history shows the ${name}`);
    const payloads = payloadsOf(encryptedHistory.events);
    assert.ok(payloads.length > 5);
    for (const payload of payloads) {
      assert.equal(metadataText(payload, "encoding"), "binary/encrypted");
      assert.equal(metadataText(payload, "encryption-key-id"), "key-a");
    }
    const plainText = historyText(await client.workflow.getHandle(plainRunId).fetchHistory());
    for (const [name, value] of Object.entries(plain)) assert.ok(plainText.includes(value), `the unencrypted history lacks the ${name}`);
  });

  test("the codec server decodes the history's payloads, for a browser and for the Temporal CLI", { timeout: 60_000 }, async () => {
    const codecServer = await startCodecServer({
      codec: payloadCodecFor({ keys: [keyA], compress: false }),
      host: "127.0.0.1",
      port: 0,
      origins: ["http://localhost:8233"],
      token: "codec-token",
    });
    try {
      const history = await client.workflow.getHandle(encryptedRunId).fetchHistory();
      const payloads = payloadsOf(history.events).map((payload) => ({
        metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value).toString("base64")])),
        data: Buffer.from(payload.data!).toString("base64"),
      }));
      const response = await fetch(`${codecServer.url}/decode`, {
        method: "POST",
        headers: { Origin: "http://localhost:8233", "Content-Type": "application/json", "X-Namespace": "default", Authorization: "Bearer codec-token" },
        body: JSON.stringify({ payloads }),
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("access-control-allow-origin"), "http://localhost:8233");
      const decoded = ((await response.json()) as { payloads: Array<{ data: string }> }).payloads.map((payload) => Buffer.from(payload.data, "base64").toString());
      assert.equal(decoded.length, payloads.length);
      for (const [name, value] of Object.entries(encrypted)) assert.ok(decoded.some((data) => data.includes(value)), `the decoded payloads lack the ${name}`);

      // The Temporal CLI speaks the same protocol: `temporal workflow show --codec-endpoint`.
      const { stdout } = await promisify(execFile)(
        findTemporalCli(),
        ["workflow", "show", "--workflow-id", encryptedRunId, "--address", server.address, "--output", "json",
          "--codec-endpoint", codecServer.url, "--codec-auth", "Bearer codec-token"],
        { maxBuffer: 64 * 1024 * 1024 },
      );
      // Payload data comes back in base64 or, for JSON payloads, spelled out; either way the text is there.
      const shown = JSON.stringify(
        JSON.parse(stdout, (name, value: unknown) => (name === "data" && typeof value === "string" ? Buffer.from(value, "base64").toString() : value)),
      );
      for (const [name, value] of Object.entries(encrypted)) assert.ok(shown.includes(value), `temporal workflow show lacks the ${name}`);
    } finally {
      await codecServer.close();
    }
  });

  test("a client without the run's key, or with no codec at all, fails with a user error naming that key, for its result, its status and its cost in the list", { timeout: 60_000 }, async () => {
    // A worker that holds the key answers the closed run's status query; this client cannot read the answer.
    const { taskQueue } = await client.workflow.getHandle(encryptedRunId).describe();
    const onQueue = (config: ReturnType<typeof configFor>) => ({ ...config, temporal: { ...config.temporal, taskQueue } });
    const config = onQueue(configFor({ keys: [{ id: "stranger", env: "DURAGENT_TEST_KEY_STRANGER" }] }));
    const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
    const holder = await startWorker(onQueue(configFor({ keys: [keyA] })));
    const namesTheKey = (error: unknown) => {
      assert.ok(isUserError(error), String(error));
      assert.match(error.message, /encrypted with key "key-a": no such key in codec\.keys \(configured: "stranger"\)/);
      return true;
    };
    try {
      await assert.rejects((async () => (await engine.getHandle(encryptedRunId)).result())(), namesTheKey);
      // Before, the status said that no worker had answered.
      await assert.rejects((async () => (await engine.getHandle(encryptedRunId)).status())(), namesTheKey);
      // `list` says why the run's cost is not shown.
      const listed = (await engine.list(20, { usage: true })).find((run) => run.runId === encryptedRunId);
      assert.match(listed?.usageUnreadable ?? "", /encrypted with key "key-a": no such key in codec\.keys/, JSON.stringify(listed));
      // A client with no codec: section at all says the run is encrypted, where Temporal's converter
      // threw "Unknown encoding: binary/encrypted" (a stack trace from the CLI).
      const { codec: _none, ...plain } = config;
      const bare = await TemporalEngine.connect(plain, runSettingsFromConfig(plain));
      const saysEncrypted = (error: unknown) => {
        assert.ok(isUserError(error), String(error));
        assert.match(error.message, /^Cannot read the run's data: it is encrypted \(key "key-a"\), and this config has no codec: section\.\nAdd the codec: section/);
        return true;
      };
      try {
        await assert.rejects((async () => (await bare.getHandle(encryptedRunId)).result())(), saysEncrypted);
        await assert.rejects((async () => (await bare.getHandle(encryptedRunId)).status())(), saysEncrypted);
        await assert.rejects((async () => (await bare.getHandle(encryptedRunId)).transcript())(), saysEncrypted);
      } finally {
        await bare.close();
      }
    } finally {
      await engine.close();
      await stopWorker(holder);
    }
  });

  test("a worker without the codec: the run's status says its worker cannot decrypt, not that its code keeps failing", { timeout: 60_000 }, async () => {
    const encrypting = configFor({ keys: [keyA] });
    const { codec: _none, ...plain } = encrypting;
    const bare = await startWorker(plain);
    const engine = await TemporalEngine.connect(encrypting, runSettingsFromConfig(encrypting));
    try {
      const handle = await engine.start(agent, "PROMPT-x: read my notes");
      const status = await waitFor("the run's status to explain its failing task", async () => {
        const read = await handle.status();
        // Until the worker's failure is in the history, the query only goes unanswered.
        return read.partial && !/none answered within/.test(read.partial) ? read : undefined;
      });
      assert.match(status.partial!, /^its worker cannot decrypt the run's payloads: the run was started by a client with a `codec:` section, and the worker that took it has none/);
      assert.match(status.lastError ?? "", /Unknown encoding: binary\/encrypted/);
      await handle.terminate("test over");
    } finally {
      await engine.close();
      await stopWorker(bare);
    }
  });

  test("an input over 2 MB that compresses under it is taken when the codec compresses, and refused when it does not", { timeout: 60_000 }, async () => {
    const big = "the same line, again and again\n".repeat(110_000); // 3.4 MB
    for (const compress of [true, false]) {
      const config = configFor({ keys: [keyA], compress });
      const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
      try {
        if (!compress) {
          await assert.rejects(engine.start(agent, big), /The input is 3\.\d MB; Temporal takes at most 2\.0 MB in a run's input\./);
          continue;
        }
        // No worker polls this task queue: the run waits, and is ended here.
        const handle = await engine.start(agent, big);
        await client.workflow.getHandle(handle.runId).terminate("test over");
      } finally {
        await engine.close();
      }
    }
  });

  test("a run started before a key rotation completes after it, its new payloads under the new key", { timeout: 120_000 }, async () => {
    const marks = markers("rotation");
    writeFileSync(join(dir, `notes-${marks.prompt.slice("PROMPT-".length)}.txt`), `The notes: ${marks.toolResult}`);
    const original = configFor({ keys: [keyA] });
    const first = await startWorker(original);
    let runId: string;
    try {
      const handle = await first.engine.start(agent, `${marks.prompt}: read my notes`);
      runId = handle.runId;
      await waitForPhase(handle, "waiting_input");
    } finally {
      await stopWorker(first);
    }

    // The same task queue, now with key B encrypting and key A kept for what the run already holds.
    const rotated = { ...configFor({ keys: [keyB, keyA], encryptWith: "key-b" }), temporal: original.temporal };
    const second = await startWorker(rotated);
    try {
      const handle = await second.engine.getHandle(runId);
      await handle.answer({ value: marks.answer });
      assert.equal(((await handle.result()) as { text: string }).text, `${marks.final}: going to ${marks.answer}`);
    } finally {
      await stopWorker(second);
    }

    const history = await client.workflow.getHandle(runId).fetchHistory();
    const keyOf = (payload: Payload | null | undefined) => (payload ? metadataText(payload, "encryption-key-id") : undefined);
    const events = history.events ?? [];
    assert.equal(keyOf(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]), "key-a");
    assert.equal(keyOf(events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]), "key-b");
    assert.deepEqual(new Set(payloadsOf(events).map((payload) => keyOf(payload))), new Set(["key-a", "key-b"]));
    const shown = historyText(history);
    for (const [name, value] of Object.entries(marks)) assert.ok(!shown.includes(value), `the rotated run's history shows the ${name}`);
  });

  test("the dev server's database file holds no encrypted run's text, and the unencrypted run's in full", { timeout: 60_000 }, async () => {
    await server.stop();
    const files = [dbFile, `${dbFile}-wal`, `${dbFile}-shm`].filter((file) => existsSync(file));
    const bytes = Buffer.concat(files.map((file) => readFileSync(file)));
    assert.ok(bytes.length > 0);
    for (const [name, value] of Object.entries(plain)) assert.ok(bytes.includes(value), `the database lacks the unencrypted run's ${name}`);
    for (const [name, value] of Object.entries(encrypted)) assert.ok(!bytes.includes(value), `the database holds the encrypted run's ${name}`);
  });
});
