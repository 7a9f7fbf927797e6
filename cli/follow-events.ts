/** One Server-Sent Event of /api/v1/events/stream. */
export interface StreamedEvent {
  id: string;
  data: Record<string, unknown>;
}

/**
 * Follows the event stream from `after`, reconnecting from the last id seen when the connection
 * drops, until `signal` aborts. Each event is handed to `onEvent` in order, exactly once.
 */
export async function followEvents(
  baseUrl: string,
  token: string | undefined,
  after: string | undefined,
  onEvent: (event: StreamedEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let last = after;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (last) headers['last-event-id'] = last;
      const res = await fetch(`${baseUrl}/api/v1/events/stream`, { headers, signal });
      if (!res.ok || !res.body) throw new Error(`the event stream answered HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map(frame.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          const id = fields.get('id');
          const data = fields.get('data');
          if (id && data) {
            last = id;
            onEvent({ id, data: JSON.parse(data) as Record<string, unknown> });
          }
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      process.stderr.write(`ao: event stream interrupted (${err instanceof Error ? err.message : String(err)}); reconnecting\n`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
