/**
 * The memory behind resumable Streamable HTTP streams (`duragent serve --transport http`): every
 * message the server sends on an SSE stream is kept here under an event id, so a client whose
 * connection dropped reconnects with `Last-Event-ID` and gets the rest: the progress it missed and
 * the answer of a long `<agent>` call, which goes on without it meanwhile.
 *
 * One store per session, bounded by count, bytes and age: the oldest events go first. A client that
 * comes back after its events went gets what is left of its stream (the answer, if it came late
 * enough), and `run_status` has the rest.
 */
import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";

export interface EventStoreLimits {
  /** Events kept per session; the oldest go first. */
  maxEvents?: number;
  /** Bytes of JSON kept per session. */
  maxBytes?: number;
  /** How long an event is kept, in ms. */
  maxAgeMs?: number;
  now?: () => number;
}

interface StoredEvent {
  streamId: StreamId;
  seq: number;
  message: JSONRPCMessage;
  bytes: number;
  at: number;
}

const eventStoreDefaults = { maxEvents: 2_000, maxBytes: 8 * 1024 * 1024, maxAgeMs: 10 * 60 * 1000 } as const;

/**
 * Event ids are `<stream id>.<sequence>`: the stream is known from the id alone, even after its
 * events were dropped, so a late reconnect still finds its stream and what remains of it.
 */
export class BoundedEventStore implements EventStore {
  private readonly events: StoredEvent[] = [];
  private bytes = 0;
  private seq = 0;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(limits: EventStoreLimits = {}) {
    this.maxEvents = limits.maxEvents ?? eventStoreDefaults.maxEvents;
    this.maxBytes = limits.maxBytes ?? eventStoreDefaults.maxBytes;
    this.maxAgeMs = limits.maxAgeMs ?? eventStoreDefaults.maxAgeMs;
    this.now = limits.now ?? Date.now;
  }

  /** Events held now, for tests and metrics. */
  get size(): number {
    return this.events.length;
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const seq = ++this.seq;
    const bytes = Buffer.byteLength(JSON.stringify(message));
    this.events.push({ streamId, seq, message, bytes, at: this.now() });
    this.bytes += bytes;
    this.evict();
    return `${streamId}.${seq}`;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return parseEventId(eventId)?.streamId;
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    const parsed = parseEventId(lastEventId);
    // The transport asks getStreamIdForEventId first and answers 400 itself; this is the fallback.
    if (!parsed) throw new Error(`Unknown event id '${lastEventId}'`);
    this.evict();
    const later = this.events.filter((event) => event.streamId === parsed.streamId && event.seq > parsed.seq);
    for (const event of later) {
      // A priming event (`{}`, no message) only marks a position; it is never replayed as data.
      if (!("jsonrpc" in event.message)) continue;
      await send(`${event.streamId}.${event.seq}`, event.message);
    }
    return parsed.streamId;
  }

  private evict(): void {
    const oldest = this.now() - this.maxAgeMs;
    while (this.events.length > 0 && (this.events.length > this.maxEvents || this.bytes > this.maxBytes || this.events[0]!.at < oldest)) {
      this.bytes -= this.events.shift()!.bytes;
    }
  }
}

function parseEventId(eventId: EventId): { streamId: StreamId; seq: number } | undefined {
  const match = /^(.+)\.(\d+)$/.exec(eventId);
  if (!match) return undefined;
  return { streamId: match[1]!, seq: Number(match[2]) };
}
