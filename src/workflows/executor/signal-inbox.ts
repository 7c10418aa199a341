/**
 * Queues signal payloads per name so that a payload sent before anyone waits is kept.
 * Shared by both engines; pure data, sandbox-safe.
 */
export class SignalInbox {
  private readonly queues = new Map<string, unknown[]>();

  push(name: string, payload: unknown): void {
    const queue = this.queues.get(name) ?? [];
    queue.push(payload);
    this.queues.set(name, queue);
  }

  has(name: string): boolean {
    return (this.queues.get(name)?.length ?? 0) > 0;
  }

  take(name: string): unknown {
    return this.queues.get(name)?.shift();
  }
}
