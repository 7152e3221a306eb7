/**
 * Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`,
 * saying `what` it waited for (a function: read as it times out, to tell how far it got).
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Polls `check` (a failing check counts as not yet) until it is true; throws after `timeoutMs`,
 * saying why the last failing check failed.
 */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  let lastFailure: string | undefined;
  const passes = async () => {
    try {
      if (await check()) return true;
      lastFailure = undefined;
      return undefined;
    } catch (error) {
      lastFailure = (error as Error).message;
      return undefined;
    }
  };
  try {
    await waitFor(passes, timeoutMs, what);
  } catch (error) {
    if (lastFailure === undefined) throw error;
    throw new Error(`${(error as Error).message} (last: ${lastFailure})`);
  }
}
