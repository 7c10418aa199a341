/**
 * MCP authorization as the conformance suite tests it, end to end on loopback with the real SDK:
 * `duragent auth login` following the server's challenge (resource_metadata, scope), step-up on
 * 403 insufficient_scope through the token store, RFC 9207 `iss` and RFC 8414 issuer checks,
 * re-registration when the authorization server changes, `application_type` in registration,
 * and `auth: { type: client_credentials }` (Basic and private_key_jwt) for workers with nobody
 * to sign in. Servers: test/support/oauth-lab.ts.
 * Run: node --import tsx --test test/oauth-authorization.test.ts
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, beforeEach, describe, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { McpConnectionPool } from "../src/activities/mcp/connection-pool.js";
import { authLoginCommand } from "../src/cli/commands/auth.js";
import { FailureType } from "../src/common/failures.js";
import { textOf } from "../src/common/messages.js";
import { ConfigSchema, type DuragentConfig } from "../src/config/schema.js";
import { ExitCode, isUserError } from "../src/errors/user-error.js";
import { AuthorizationServer, IdentityProvider, ResourceServer, signInAsPerson, TokenRegistry, type AuthorizationServerOptions, type ResourceServerOptions } from "./support/oauth-lab.js";

const root = mkdtempSync(join(tmpdir(), "duragent-oauth-authz-"));
let closers: (() => Promise<void>)[] = [];

beforeEach(() => {
  process.env.DURAGENT_OAUTH_DIR = mkdtempSync(join(root, "oauth-"));
});

afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

after(() => {
  rmSync(root, { recursive: true, force: true });
  delete process.env.DURAGENT_OAUTH_DIR;
});

async function lab(asOptions: AuthorizationServerOptions = {}, rsOptions: ResourceServerOptions = {}, registry = new TokenRegistry()) {
  const as = await new AuthorizationServer(registry, asOptions).start();
  const rs = await new ResourceServer(as, rsOptions).start();
  closers.push(() => as.close(), () => rs.close());
  return { as, rs };
}

function configFor(name: string, url: string, auth: Record<string, unknown> = { type: "oauth" }): DuragentConfig {
  return ConfigSchema.parse({ mcp: { servers: { [name]: { url, auth, timeoutMs: 10_000 } } } });
}

async function login(config: DuragentConfig, name: string) {
  return authLoginCommand(config, name, { openUrl: signInAsPerson, timeoutMs: 10_000 });
}

async function whoami(config: DuragentConfig, name: string): Promise<string> {
  const pool = new McpConnectionPool(config.mcp.servers);
  try {
    const result = await pool.callTool({ server: name, tool: "whoami", arguments: {} });
    assert.equal(result.isError, false, textOf(result.content));
    return textOf(result.content);
  } finally {
    await pool.closeAll();
  }
}

/** The failure a worker's call ends with, checked to be one Temporal will not retry. */
async function failureOf(config: DuragentConfig, name: string): Promise<ApplicationFailure> {
  const pool = new McpConnectionPool(config.mcp.servers);
  try {
    await pool.callTool({ server: name, tool: "whoami", arguments: {} });
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.nonRetryable, true, error.message);
    return error;
  } finally {
    await pool.closeAll();
  }
  assert.fail("the call should have failed");
}

function stored(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(process.env.DURAGENT_OAUTH_DIR!, `${name}.json`), "utf8")) as Record<string, unknown>;
}

describe("auth login follows the server's challenge", () => {
  test("resource_metadata at a custom URL, the challenge's scope, an issuer with a path; registers as a native application", async () => {
    const { as, rs } = await lab({ prefix: "/tenant1" }, { prmPath: "/custom/metadata/location.json", challengeScope: "mcp:basic" });
    const config = configFor("custom", rs.url);
    const output = await login(config, "custom");
    assert.match(output.text, /Signed in to 'custom' with scope 'mcp:basic'/);
    const [authorize] = as.events_("authorize");
    assert.equal(authorize?.data.scope, "mcp:basic");
    assert.equal(authorize?.data.resource, rs.url);
    assert.equal(as.events_("register")[0]?.data.application_type, "native", "SEP-837");
    assert.ok(!rs.requests.some((path) => path.startsWith("/.well-known/")), `only the challenge's metadata URL: ${rs.requests.join(", ")}`);
    assert.match(await whoami(config, "custom"), /scopes mcp:basic$/);
  });

  test("without a scope in the challenge, the metadata's scopes_supported; without either, no scope", async () => {
    const supported = await lab({}, { scopesSupported: ["mcp:read", "mcp:write"] });
    await login(configFor("supported", supported.rs.url), "supported");
    assert.equal(supported.as.events_("authorize")[0]?.data.scope, "mcp:read mcp:write");
    const none = await lab();
    await login(configFor("none", none.rs.url), "none");
    assert.equal(none.as.events_("authorize")[0]?.data.scope, undefined);
  });
});

describe("step-up on 403 insufficient_scope", () => {
  test("the worker records the refused scope and fails without retry; the login it names asks for the union", async () => {
    // initialize is open, so the login's unauthenticated probe finds the challenge at tools/list.
    const { as, rs } = await lab({}, { openInitialize: true, challengeScope: "mcp:basic", callScope: "mcp:basic mcp:write" });
    const config = configFor("stepup", rs.url);
    await login(config, "stepup");
    assert.equal(as.events_("authorize")[0]?.data.scope, "mcp:basic");

    const failure = await failureOf(config, "stepup");
    assert.equal(failure.type, FailureType.mcpAuthorizationRequired);
    assert.match(failure.message, /refused the request: it needs scope 'mcp:basic mcp:write', which the current sign-in lacks/);
    assert.match(failure.message, /Run `duragent auth login stepup` to sign in again; it will ask for 'mcp:basic mcp:write'/);
    assert.equal(stored("stepup").stepUpScope, "mcp:basic mcp:write");

    const output = await login(config, "stepup");
    assert.match(output.text, /Signed in to 'stepup' with scope 'mcp:basic mcp:write'/);
    assert.equal(as.events_("authorize")[1]?.data.scope, "mcp:basic mcp:write");
    assert.equal(stored("stepup").stepUpScope, undefined, "the step-up is done");
    assert.match(await whoami(config, "stepup"), /scopes mcp:basic mcp:write$/);

    // A server that refuses a scope the sign-in already has: signing in again cannot help, and the error says so.
    rs.options.alwaysForbid = "mcp:basic";
    const hopeless = await failureOf(config, "stepup");
    assert.equal(hopeless.type, FailureType.mcpAuthorizationRequired);
    assert.match(hopeless.message, /asking for 'mcp:basic', which the current sign-in already has; signing in again will not help/);
    assert.doesNotMatch(hopeless.message, /auth login/);
    assert.equal(as.events_("authorize").length, 2, "nobody was sent to sign in again");
  });
});

describe("authorization server checks", () => {
  const cases: { name: string; options: AuthorizationServerOptions; refused?: RegExp }[] = [
    { name: "iss-correct", options: { issAdvertised: true, iss: "correct" } },
    { name: "iss-absent-unadvertised", options: { iss: "omit" } },
    { name: "iss-wrong", options: { issAdvertised: true, iss: "wrong" }, refused: /names the issuer 'https:\/\/evil\.example\.com', but the sign-in went to 'http:\/\/127\.0\.0\.1:\d+' \(RFC 9207\)/ },
    { name: "iss-missing", options: { issAdvertised: true, iss: "omit" }, refused: /says it names itself in every authorization response \(iss, RFC 9207\), but this one carried no iss/ },
    { name: "iss-wrong-unadvertised", options: { iss: "wrong" }, refused: /names the issuer 'https:\/\/evil\.example\.com'/ },
  ];
  for (const { name, options, refused } of cases) {
    test(`RFC 9207 iss: ${name}`, async () => {
      const { as, rs } = await lab(options);
      const config = configFor(name, rs.url);
      if (!refused) {
        assert.equal(((await login(config, name)).data as { outcome: string }).outcome, "signed-in");
        assert.equal(as.events_("token").length, 1);
        return;
      }
      await assert.rejects(login(config, name), (error: Error) => {
        assert.match(error.message, new RegExp(`Sign-in to '${name}' was refused, and its authorization code was not used`));
        assert.match(error.message, refused);
        return true;
      });
      assert.equal(as.events_("authorize").length, 1);
      assert.equal(as.events_("token").length, 0, "the code was never exchanged");
      assert.equal(stored(name).codeVerifier, undefined);
    });
  }

  test("metadata naming another issuer is not used: no registration, no authorization, no token request", async () => {
    const { as, rs } = await lab({ metadataIssuer: "https://attacker.example.com" });
    const config = configFor("mismatch", rs.url);
    await assert.rejects(login(config, "mismatch"), (error: unknown) => {
      // Said as what it is, never as a bug: the CLI prints the message and exits 5 (a service it needs does not work).
      assert.ok(isUserError(error), String(error));
      assert.equal(error.exitCode, ExitCode.unavailable);
      assert.match(error.message, /metadata of MCP server 'mismatch' at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-authorization-server names the issuer 'https:\/\/attacker\.example\.com', not 'http:\/\/127\.0\.0\.1:\d+'/);
      return true;
    });
    assert.equal(as.events_("metadata").length, 1);
    assert.deepEqual([...as.events_("register"), ...as.events_("authorize"), ...as.events_("token")], []);
  });

  test("when the server moves to another authorization server, workers say so, and the next login registers there", async () => {
    const registry = new TokenRegistry();
    const { as: first, rs } = await lab({}, {}, registry);
    const second = await new AuthorizationServer(registry).start();
    closers.push(() => second.close());
    const config = configFor("moving", rs.url);
    await login(config, "moving");
    const firstClient = String(first.events_("authorize")[0]?.data.client_id);
    assert.match(await whoami(config, "moving"), new RegExp(`client ${firstClient} `));

    rs.authorizationServer = second; // its metadata now names the second; the first's tokens are refused
    const failure = await failureOf(config, "moving");
    assert.equal(failure.type, FailureType.mcpAuthorizationRequired);
    assert.match(failure.message, new RegExp(`it now uses the authorization server ${second.issuer}/?, where duragent has not signed in\\): run \`duragent auth login moving\``));

    await login(config, "moving");
    assert.equal(second.events_("register").length, 1, "registered with the new authorization server");
    const secondClient = String(second.events_("authorize")[0]?.data.client_id);
    assert.notEqual(secondClient, firstClient, "the first server's client is never presented to the second");
    assert.ok(second.events.every((event) => !JSON.stringify(event).includes(firstClient)));
    const clients = stored("moving").clients as Record<string, { client_id: string }>;
    assert.deepEqual(Object.values(clients).map((client) => client.client_id).sort(), [firstClient, secondClient].sort());
    assert.match(await whoami(config, "moving"), new RegExp(`client ${secondClient} `));
  });
});

describe("client credentials: workers get their own tokens", () => {
  test("client_secret_basic with the secret from the environment; a new token when the old one expires; login only checks", async () => {
    const { as, rs } = await lab({ clientCredentials: { clientId: "svc", secret: "s3cret" }, tokenTtlS: 2 });
    process.env.DURAGENT_TEST_CC_SECRET = "s3cret";
    const config = configFor("service", rs.url, { type: "client_credentials", clientId: "svc", clientSecretEnv: "DURAGENT_TEST_CC_SECRET", scope: "mcp:read" });
    assert.match(await whoami(config, "service"), /^client svc scopes mcp:read$/);
    const [token] = as.events_("token");
    assert.equal(token?.data.grant_type, "client_credentials");
    assert.equal(token?.authorization, `Basic ${Buffer.from("svc:s3cret").toString("base64")}`);
    assert.equal(token?.data.client_secret, undefined, "the secret travels in the Authorization header only");
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    assert.match(await whoami(config, "service"), /^client svc /);
    assert.equal(as.events_("token").length, 2, "the expired token was replaced without anyone");
    assert.deepEqual([...as.events_("authorize"), ...as.events_("register")], []);

    const output = await login(config, "service");
    assert.match(output.text, /uses client credentials, and they work/);
    assert.equal((output.data as { tokenFile?: string }).tokenFile, undefined);
  });

  test("private_key_jwt with a SEC1 EC key from a file", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const keyFile = join(root, "service-key.pem");
    writeFileSync(keyFile, privateKey.export({ format: "pem", type: "sec1" }), { mode: 0o600 });
    const { as, rs } = await lab({ clientCredentials: { clientId: "svc-jwt", publicKey } });
    const config = configFor("jwt", rs.url, { type: "client_credentials", clientId: "svc-jwt", privateKeyFile: keyFile });
    assert.match(await whoami(config, "jwt"), /^client svc-jwt /);
    const [token] = as.events_("token");
    assert.equal(token?.data.client_assertion_type, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert.equal(JSON.parse(Buffer.from(String(token?.data.client_assertion).split(".")[0]!, "base64url").toString()).alg, "ES256");
    assert.equal(token?.authorization, undefined);
  });

  test("a missing secret or refused credentials fail without retry, saying what to fix", async () => {
    const { rs } = await lab({ clientCredentials: { clientId: "svc", secret: "s3cret" } });
    delete process.env.DURAGENT_TEST_CC_MISSING;
    const missing = await failureOf(configFor("nosecret", rs.url, { type: "client_credentials", clientId: "svc", clientSecretEnv: "DURAGENT_TEST_CC_MISSING" }), "nosecret");
    assert.equal(missing.type, FailureType.configuration);
    assert.match(missing.message, /MCP server 'nosecret' needs its client secret in the environment variable DURAGENT_TEST_CC_MISSING \(mcp\.servers\.nosecret\.auth\.clientSecretEnv\)/);

    const secretFile = join(root, "wrong-secret");
    writeFileSync(secretFile, "wrong\n");
    const refused = await failureOf(configFor("wrongsecret", rs.url, { type: "client_credentials", clientId: "svc", clientSecretFile: secretFile }), "wrongsecret");
    assert.equal(refused.type, FailureType.configuration);
    assert.match(refused.message, /The authorization server of MCP server 'wrongsecret' refused duragent's request \(invalid_client: client authentication failed\)\. Check the client credentials/);
  });

  test("enterprise-managed: the person's ID token from a file becomes an ID-JAG at the identity provider, then a token; a missing ID token fails without retry", async () => {
    const idp = await new IdentityProvider({ clientId: "duragent-at-idp", idTokens: { "id-token-of-ada": "ada" } }).start();
    closers.push(() => idp.close());
    const { as, rs } = await lab({ jwtBearer: { clientId: "mcp-client", secret: "s3cret", idp } });
    const idTokenFile = join(root, "ada-id-token");
    writeFileSync(idTokenFile, "id-token-of-ada\n", { mode: 0o600 });
    process.env.DURAGENT_TEST_EM_SECRET = "s3cret";
    const enterprise = (idToken: Record<string, string>) => ({
      type: "enterprise_managed",
      clientId: "mcp-client",
      clientSecretEnv: "DURAGENT_TEST_EM_SECRET",
      scope: "mcp:read",
      idp: { tokenEndpoint: `${idp.base}/token`, clientId: "duragent-at-idp", ...idToken },
    });
    const config = configFor("enterprise", rs.url, enterprise({ idTokenFile }));
    assert.match(await whoami(config, "enterprise"), /^client mcp-client for ada scopes mcp:read$/);
    const [exchange] = idp.events;
    assert.equal(exchange?.audience, as.issuer);
    assert.equal(exchange?.resource, rs.url);
    assert.equal(as.events_("token")[0]?.data.grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert.deepEqual([...as.events_("authorize"), ...as.events_("register")], [], "nobody signs in, nothing is registered");
    assert.match((await login(config, "enterprise")).text, /work/);

    const staleFile = join(root, "stale-id-token");
    writeFileSync(staleFile, "id-token-of-nobody\n");
    const refused = await failureOf(configFor("staletoken", rs.url, enterprise({ idTokenFile: staleFile })), "staletoken");
    assert.equal(refused.type, FailureType.configuration);
    assert.match(refused.message, /The identity provider of MCP server 'staletoken' refused to exchange the ID token \(invalid_grant - unknown ID token\)\. The ID token may have expired/);

    delete process.env.DURAGENT_TEST_EM_MISSING;
    const missing = await failureOf(configFor("noidtoken", rs.url, enterprise({ idTokenEnv: "DURAGENT_TEST_EM_MISSING" })), "noidtoken");
    assert.equal(missing.type, FailureType.configuration);
    assert.match(missing.message, /MCP server 'noidtoken' needs its ID token in the environment variable DURAGENT_TEST_EM_MISSING \(mcp\.servers\.noidtoken\.auth\.idp\.idTokenEnv\)/);
  });

  test("one name in two configs of one process: each config's grant gets its own token, never the other's", async () => {
    const idp = await new IdentityProvider({ clientId: "duragent-at-idp", idTokens: { "id-token-of-ada": "ada", "id-token-of-grace": "grace" } }).start();
    closers.push(() => idp.close());
    const { as, rs } = await lab({ jwtBearer: { clientId: "mcp-client", secret: "s3cret", idp } });
    process.env.DURAGENT_TEST_EM_SECRET = "s3cret";
    const asPerson = (person: string) => {
      const idTokenFile = join(root, `shared-name-${person}`);
      writeFileSync(idTokenFile, `id-token-of-${person}\n`, { mode: 0o600 });
      return configFor("people", rs.url, {
        type: "enterprise_managed",
        clientId: "mcp-client",
        clientSecretEnv: "DURAGENT_TEST_EM_SECRET",
        idp: { tokenEndpoint: `${idp.base}/token`, clientId: "duragent-at-idp", idTokenFile },
      });
    };
    assert.match(await whoami(asPerson("ada"), "people"), /^client mcp-client for ada /);
    // Before, tokens were kept by server name and client id: Grace's calls went out as Ada.
    assert.match(await whoami(asPerson("grace"), "people"), /^client mcp-client for grace /);
    assert.match(await whoami(asPerson("ada"), "people"), /^client mcp-client for ada /);
    assert.equal(as.events_("token").length, 2, "Ada's second call reused her token");
  });

  test("enterprise-managed: once another person's ID token is in the file, the next call goes out as them, not on the token got for the one before", async () => {
    const idp = await new IdentityProvider({ clientId: "duragent-at-idp", idTokens: { "id-token-of-ada": "ada", "id-token-of-grace": "grace" } }).start();
    closers.push(() => idp.close());
    const { as, rs } = await lab({ jwtBearer: { clientId: "mcp-client", secret: "s3cret", idp } });
    process.env.DURAGENT_TEST_EM_SECRET = "s3cret";
    const idTokenFile = join(root, "desk-id-token");
    writeFileSync(idTokenFile, "id-token-of-ada\n", { mode: 0o600 });
    const config = configFor("desk", rs.url, {
      type: "enterprise_managed",
      clientId: "mcp-client",
      clientSecretEnv: "DURAGENT_TEST_EM_SECRET",
      idp: { tokenEndpoint: `${idp.base}/token`, clientId: "duragent-at-idp", idTokenFile },
    });
    assert.match(await whoami(config, "desk"), /^client mcp-client for ada /);
    assert.match(await whoami(config, "desk"), /^client mcp-client for ada /);
    assert.equal(as.events_("token").length, 1, "an unchanged ID token keeps its access token");
    // Another person signs in at the same desk; their IdP tooling rewrites the file.
    writeFileSync(idTokenFile, "id-token-of-grace\n", { mode: 0o600 });
    // Before, Ada's access token went on being used until it expired.
    assert.match(await whoami(config, "desk"), /^client mcp-client for grace /);
    assert.equal(as.events_("token").length, 2);
    // Gone: no call goes out on the token got with it; the grant says which file it needs.
    rmSync(idTokenFile);
    const gone = await failureOf(config, "desk");
    assert.equal(gone.type, FailureType.configuration);
    assert.match(gone.message, /MCP server 'desk' cannot read its ID token file .*desk-id-token \(mcp\.servers\.desk\.auth\.idp\.idTokenFile\)/);
  });

  test("the config takes exactly one secret or key, and no secret in the file itself", () => {
    const parse = (auth: Record<string, unknown>) => ConfigSchema.safeParse({ mcp: { servers: { s: { url: "http://127.0.0.1:1/mcp", auth } } } });
    assert.equal(parse({ type: "client_credentials", clientId: "a", clientSecretEnv: "X" }).success, true);
    assert.equal(parse({ type: "client_credentials", clientId: "a" }).success, false);
    assert.equal(parse({ type: "client_credentials", clientId: "a", clientSecretEnv: "X", privateKeyFile: "k.pem" }).success, false);
    assert.equal(parse({ type: "client_credentials", clientId: "a", privateKeyFile: "k.pem", tokenEndpointAuthMethod: "client_secret_basic" }).success, false);
    assert.equal(parse({ type: "client_credentials", clientId: "a", clientSecret: "inline" }).success, false);
    const idp = { tokenEndpoint: "https://idp.example.com/token", clientId: "i", idTokenFile: "t" };
    assert.equal(parse({ type: "enterprise_managed", clientId: "a", clientSecretEnv: "X", idp }).success, true);
    assert.equal(parse({ type: "enterprise_managed", clientId: "a", idp }).success, false);
    assert.equal(parse({ type: "enterprise_managed", clientId: "a", clientSecretEnv: "X", idp: { ...idp, idTokenFile: undefined } }).success, false);
    assert.equal(parse({ type: "enterprise_managed", clientId: "a", clientSecretEnv: "X", idp: { ...idp, tokenEndpoint: undefined } }).success, false);
  });
});
