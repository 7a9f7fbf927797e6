/**
 * Runs `task` every `intervalMs` (never two at once) until stopped; `now()` runs it at once and
 * shares a run already in progress. A failing run is reported and the schedule goes on.
 */
export function every<T>(
  intervalMs: number,
  task: () => Promise<T>,
  onError: (err: unknown) => void,
): { now(): Promise<T>; stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<T> | undefined;
  let stopped = false;
  const now = (): Promise<T> => {
    running ??= task().finally(() => {
      running = undefined;
    });
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      now().catch(onError).finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    now,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => {});
    },
  };
}
