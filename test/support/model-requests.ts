/** What the scripted model server recorded of a request, as tests read it. */
import type { RecordedRequest } from "../../src/testing/scripted-model-server.js";

/** Whether the request asked for a streamed answer. */
export function askedToStream(request: RecordedRequest): boolean {
  return (request.body as { stream?: boolean }).stream ?? false;
}
