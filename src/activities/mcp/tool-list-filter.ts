/**
 * Leaves out of a server's `tools/list` answers each tool the MCP SDK would refuse, naming it: the
 * SDK checks the whole list at once, so one tool with a malformed definition (an input schema of
 * `type: "string"`) would take every tool of its server with it.
 */
import { ToolSchema } from "@modelcontextprotocol/core";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/client";

type Deliver = NonNullable<Transport["onmessage"]>;

/** Filters `transport`'s incoming `tools/list` results from now on; `leftOut` hears of each tool dropped. */
export function withoutMalformedTools(transport: Transport, leftOut: (tool: string, why: string) => void): void {
  const listings = new Set<string | number>();
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if ("method" in message && message.method === "tools/list" && "id" in message) listings.add(message.id);
    return send(message, options);
  };
  const filtered = (message: JSONRPCMessage): JSONRPCMessage => {
    if (!("id" in message) || !listings.delete(message.id as string | number) || !("result" in message)) return message;
    const tools = (message.result as { tools?: unknown }).tools;
    if (!Array.isArray(tools)) return message;
    const kept = tools.filter((tool: unknown) => {
      const checked = ToolSchema.safeParse(tool);
      if (checked.success) return true;
      const name = typeof (tool as { name?: unknown } | null)?.name === "string" ? (tool as { name: string }).name : "(no name)";
      leftOut(name, checked.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; "));
      return false;
    });
    return kept.length === tools.length ? message : { ...message, result: { ...message.result, tools: kept } };
  };
  // The SDK sets the transport's `onmessage` (the version probe sets one of its own first, and may
  // hand a message on to the one it found): each handler it reads is wrapped once, and one it
  // writes back is unwrapped, so no message passes the filter's handler twice into itself.
  const wrappers = new WeakMap<Deliver, Deliver>();
  const unwrapped = new WeakMap<Deliver, Deliver>();
  const wrap = (handler: Deliver): Deliver => {
    let wrapper = wrappers.get(handler);
    if (!wrapper) {
      wrapper = (message, extra) => handler(filtered(message), extra);
      wrappers.set(handler, wrapper);
      unwrapped.set(wrapper, handler);
    }
    return wrapper;
  };
  let handler = transport.onmessage;
  Object.defineProperty(transport, "onmessage", {
    configurable: true,
    enumerable: true,
    get: () => (handler ? wrap(handler) : undefined),
    set: (value: Deliver | undefined) => {
      handler = value && (unwrapped.get(value) ?? value);
    },
  });
}
