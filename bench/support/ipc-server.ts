/**
 * The child's half of ChildServer: announces readiness and answers typed requests from the bench.
 * Only for bench servers; the app's own entry points know nothing of this.
 */
type Handler = (message: Record<string, unknown>) => unknown;

export function announceReady(url: string): void {
  // A bench that dies must not leave its servers behind: the IPC channel closing ends this process.
  process.once('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', url });
}

export function serveRequests(handlers: Record<string, Handler>): void {
  process.on('message', (message: Record<string, unknown> & { id: number; type: string }) => {
    const handler = handlers[message.type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request ${message.type}`);
        return handler(message);
      })
      .then(
        (result) => process.send?.({ id: message.id, ok: true, result }),
        (error: unknown) =>
          process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
}
