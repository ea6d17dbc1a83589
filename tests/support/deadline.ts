/**
 * Every wait in a test has a deadline: a broken feature fails with a message
 * saying what never happened, instead of hanging the suite.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Resolves once `condition()` holds: checked now, then each time `emitter` emits `event`
 * (the deck's `changed`, say), never by polling; rejects at the deadline.
 */
export function untilTrue(emitter: NodeJS.EventEmitter, event: string, condition: () => boolean, ms: number, what: string): Promise<void> {
  let check: () => void = () => {};
  const met = new Promise<void>((resolve) => {
    check = () => {
      if (condition()) resolve();
    };
    emitter.on(event, check);
    check();
  });
  return withDeadline(met, ms, what).finally(() => emitter.off(event, check));
}
