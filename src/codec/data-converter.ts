/**
 * The data converter every Temporal client and worker of duragent uses: Temporal's default one,
 * plus duragent's payload codec when the config has a `codec:` section. Keys are read here, when
 * a process connects, so a missing or malformed key stops it at start with a message saying why.
 */
import type { DataConverter, Payload, PayloadCodec } from "@temporalio/common";
import type { DuragentConfig } from "../config/schema.js";
import { AesGcmCodec } from "./aes-gcm-codec.js";
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
