/**
 * A Temporal `PayloadCodec` that encrypts each payload whole (its metadata and data) with
 * AES-256-GCM, so the cluster stores only ciphertext. It follows Temporal's encryption samples:
 * the encrypted payload's metadata says `encoding: binary/encrypted` and names its key in
 * `encryption-key-id`, and its data is nonce (12 bytes) + ciphertext + tag (16 bytes).
 *
 * Several keys may be given: the one named by `encryptWith` encrypts, and every one decrypts, so
 * payloads written before a key rotation stay readable. Payloads that are not encrypted pass
 * through decoding unchanged, so histories from before the codec was switched on stay readable.
 *
 * Runs on clients and workers only (Temporal applies codecs outside the workflow sandbox).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Payload, PayloadCodec } from "@temporalio/common";
import protos from "@temporalio/proto";
import { UserError } from "../errors/user-error.js";

export const encryptedEncoding = "binary/encrypted";
export const keyIdMetadataKey = "encryption-key-id";

const algorithm = "aes-256-gcm";
export const keyBytes = 32;
const nonceBytes = 12;
const tagBytes = 16;

const ProtoPayload = protos.temporal.api.common.v1.Payload;

/** One key: its id, written into every payload it encrypts, and its 32 bytes. */
export interface CodecKey {
  id: string;
  key: Uint8Array;
}

/**
 * A payload this process cannot decrypt: its key is not configured here, or its bytes were
 * altered. A `UserError`, so the CLI prints the message and the fix rather than a stack trace.
 */
export class PayloadDecryptionError extends UserError {
  override name = "PayloadDecryptionError" as const;
  /** The key the payload names, when it names one. */
  readonly keyId: string | undefined;

  constructor(message: string, options: { keyId?: string; hint: string; cause?: unknown }) {
    super(message, { hint: options.hint, cause: options.cause });
    this.keyId = options.keyId;
  }
}

/** The key an encrypted payload names; null when it names none; undefined when it is not encrypted. */
export function encryptedUnder(payload: Payload): string | null | undefined {
  const encoding = payload.metadata?.encoding;
  if (!encoding || Buffer.from(encoding).toString() !== encryptedEncoding) return undefined;
  const idBytes = payload.metadata?.[keyIdMetadataKey];
  return idBytes ? Buffer.from(idBytes).toString() : null;
}

export class AesGcmCodec implements PayloadCodec {
  private readonly keys = new Map<string, Uint8Array>();
  private readonly encryptWith: string;

  constructor(keys: readonly CodecKey[], encryptWith?: string) {
    for (const { id, key } of keys) {
      if (key.length !== keyBytes) throw new Error(`codec key "${id}" is ${key.length} bytes; AES-256 needs ${keyBytes}`);
      if (this.keys.has(id)) throw new Error(`codec key id "${id}" is given twice`);
      this.keys.set(id, key);
    }
    const chosen = encryptWith ?? keys[0]?.id;
    if (chosen === undefined || !this.keys.has(chosen)) throw new Error(`no codec key "${chosen ?? ""}" to encrypt with`);
    this.encryptWith = chosen;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  private encrypt(payload: Payload): Payload {
    const nonce = randomBytes(nonceBytes);
    const cipher = createCipheriv(algorithm, this.keys.get(this.encryptWith)!, nonce, { authTagLength: tagBytes });
    const plaintext = ProtoPayload.encode(payload).finish();
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: { encoding: Buffer.from(encryptedEncoding), [keyIdMetadataKey]: Buffer.from(this.encryptWith) },
      data: Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    const keyId = encryptedUnder(payload);
    if (keyId === undefined) return payload;
    if (keyId === null) {
      throw new PayloadDecryptionError("Cannot decrypt a payload: it names no encryption key (no encryption-key-id).", {
        hint: "It was not written by duragent's codec.",
      });
    }
    const key = this.keys.get(keyId);
    if (!key) {
      const configured = [...this.keys.keys()].map((id) => `"${id}"`).join(", ");
      throw new PayloadDecryptionError(
        `Cannot decrypt a payload encrypted with key "${keyId}": no such key in codec.keys (configured: ${configured}).`,
        {
          keyId,
          hint: `Add the key "${keyId}" to codec.keys here (after the current one). Every client and worker needs each key in use: one retired by a rotation while runs still hold payloads under it, and a new one before any client encrypts with it.`,
        },
      );
    }
    const data = payload.data ?? new Uint8Array();
    try {
      if (data.length < nonceBytes + tagBytes) throw new Error("too short");
      const decipher = createDecipheriv(algorithm, key, data.subarray(0, nonceBytes), { authTagLength: tagBytes });
      decipher.setAuthTag(data.subarray(data.length - tagBytes));
      const plaintext = Buffer.concat([decipher.update(data.subarray(nonceBytes, data.length - tagBytes)), decipher.final()]);
      return ProtoPayload.decode(plaintext);
    } catch (error) {
      throw new PayloadDecryptionError(
        `Cannot decrypt a payload with key "${keyId}": its data was altered, or the key under that id is not the one it was encrypted with.`,
        { keyId, hint: `Check that codec.keys gives "${keyId}" the same 32 bytes on every client and worker.`, cause: error },
      );
    }
  }
}
