/**
 * Optional compression before encryption, in the format of the Go SDK's zlib codec: the whole
 * payload, zlib-compressed, under `encoding: binary/zlib`. A payload is compressed only when that
 * makes it smaller. Decoding always understands it, so turning compression off later keeps old
 * payloads readable.
 */
import { deflateSync, inflateSync } from "node:zlib";
import type { Payload, PayloadCodec } from "@temporalio/common";
import protos from "@temporalio/proto";

export const zlibEncoding = "binary/zlib";

/** Far above Temporal's payload limits; a guard against a crafted payload that inflates without end. */
const maxInflatedBytes = 256 * 1024 * 1024;

const ProtoPayload = protos.temporal.api.common.v1.Payload;

export class ZlibCodec implements PayloadCodec {
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = ProtoPayload.encode(payload).finish();
      const compressed = deflateSync(plain);
      if (compressed.length >= plain.length) return payload;
      return { metadata: { encoding: Buffer.from(zlibEncoding) }, data: compressed };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || Buffer.from(encoding).toString() !== zlibEncoding) return payload;
      return ProtoPayload.decode(inflateSync(payload.data ?? new Uint8Array(), { maxOutputLength: maxInflatedBytes }));
    });
  }
}
