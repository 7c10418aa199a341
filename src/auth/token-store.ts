/**
 * Where OAuth credentials for MCP servers live: one JSON file per server under
 * `~/.duragent/oauth/` (or `$DURAGENT_OAUTH_DIR`), readable by the owner only (0600, in a 0700
 * directory). Workers read them when they connect; they never enter workflow history.
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";

/** What we keep per server; fields are the SDK's OAuth shapes, stored as the SDK gives them. */
const StoredCredentialsSchema = z.object({
  /** The client as registered by an earlier duragent, bound to no authorization server; read, never written. */
  clientInformation: z.record(z.string(), z.unknown()).optional(),
  /**
   * The clients registered (or CIMD URLs used) with each authorization server, by the server's URL:
   * when the MCP server moves to another authorization server, duragent registers anew there, and
   * never presents one server's client to another.
   */
  clients: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  /** The authorization server that issued `tokens`. */
  authorizationServer: z.string().optional(),
  tokens: z.record(z.string(), z.unknown()).optional(),
  /** The scope the last sign-in asked for (space-separated); the next one asks for at least as much. */
  requestedScope: z.string().optional(),
  /**
   * Scope the MCP server demanded (403 `insufficient_scope`) that the tokens lack; the next
   * `duragent auth login` asks for it too, with what was asked before.
   */
  stepUpScope: z.string().optional(),
  /** When the tokens were saved, in ms since the epoch, to tell when the access token expires. */
  savedAt: z.number().optional(),
  /** The redirect URL the client signed in with; workers present the same one (they never use it). */
  redirectUrl: z.string().optional(),
  /** The PKCE verifier of a sign-in in progress. */
  codeVerifier: z.string().optional(),
});
export type StoredCredentials = z.infer<typeof StoredCredentialsSchema>;

/** The directory for credential files: `$DURAGENT_OAUTH_DIR`, else `~/.duragent/oauth`. */
function oauthDirectory(env: Record<string, string | undefined> = process.env): string {
  return env.DURAGENT_OAUTH_DIR || path.join(os.homedir(), ".duragent", "oauth");
}

export class TokenStore {
  constructor(
    readonly server: string,
    readonly directory: string = oauthDirectory(),
  ) {}

  /** `<directory>/<server>.json`, with the server name made safe as a file name. */
  get file(): string {
    return path.join(this.directory, `${this.server.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
  }

  async read(): Promise<StoredCredentials> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw error;
    }
    const parsed = StoredCredentialsSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new Error(`${this.file} is not a duragent credentials file; delete it and run \`duragent auth login ${this.server}\`.`);
    }
    return parsed.data;
  }

  /** Merges `changes` into the file. */
  async update(changes: Partial<StoredCredentials>): Promise<void> {
    await this.write({ ...(await this.read()), ...changes });
  }

  async clear(fields: (keyof StoredCredentials)[]): Promise<void> {
    const current = await this.read();
    for (const field of fields) delete current[field];
    await this.write(current);
  }

  /** Written whole and renamed into place, so a crash never leaves half a file. */
  private async write(credentials: StoredCredentials): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    // `mode` applies only when the file is created; make sure of it either way.
    await chmod(temporary, 0o600);
    await rename(temporary, this.file);
  }
}
