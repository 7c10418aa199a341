/**
 * The data converter every Temporal client and worker of duragent uses: Temporal's default one,
 * plus duragent's payload codec when the config has a `codec:` section. Keys are read here, when
 * a process connects, so a missing or malformed key stops it at start with a message saying why.
 */
import type { DataConverter, Payload, PayloadCodec } from "@temporalio/common";
import type { DuragentConfig } from "../config/schema.js";
import { AesGcmCodec, encryptedUnder, PayloadDecryptionError } from "./aes-gcm-codec.js";
import { readCodecKeys } from "./codec-keys.js";
import { ZlibCodec } from "./zlib-codec.js";

/** The configured codec: compress (when asked), then encrypt; decoding undoes both whatever the settings. */
export function payloadCodecFor(codec: NonNullable<DuragentConfig["codec"]>, env: NodeJS.ProcessEnv = process.env): PayloadCodec {
  const encryption = new AesGcmCodec(readCodecKeys(codec, env), codec.encryptWith);
  const compression = new ZlibCodec();
  return {
    async encode(payloads: Payload[]) {
      return encryption.encode(codec.compress ? await compression.encode(payloads) : payloads);
    },
    async decode(payloads: Payload[]) {
      return compression.decode(await encryption.decode(payloads));
    },
  };
}

/** What to pass as `dataConverter` to a Temporal Client or Worker; undefined (Temporal's default) without `codec:`. */
export function dataConverterFor(config: DuragentConfig, env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  return config.codec ? { payloadCodecs: [payloadCodecFor(config.codec, env)] } : undefined;
}

/**
 * A client's: without `codec:` it still names an encrypted payload for what it is, where Temporal's
 * converter would throw "Unknown encoding: binary/encrypted" from deep inside. Not a worker's:
 * there it would run over every payload of every workflow task.
 */
export function clientDataConverterFor(config: DuragentConfig, env: NodeJS.ProcessEnv = process.env): DataConverter {
  return dataConverterFor(config, env) ?? { payloadCodecs: [encryptedPayloadsRefused] };
}

const encryptedPayloadsRefused: PayloadCodec = {
  async encode(payloads: Payload[]) {
    return payloads;
  },
  async decode(payloads: Payload[]) {
    for (const payload of payloads) {
      const keyId = encryptedUnder(payload);
      if (keyId === undefined) continue;
      throw new PayloadDecryptionError(`Cannot read the run's data: it is encrypted${keyId ? ` (key "${keyId}")` : ""}, and this config has no codec: section.`, {
        ...(keyId ? { keyId } : {}),
        hint: "Add the codec: section the workers use, with its keys, to this config (see \"Encrypted payloads\" in duragent's README).",
      });
    }
    return payloads;
  },
};
