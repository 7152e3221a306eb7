/** What `settledWithin` answers for work that has not settled in time. */
export const LATE = Symbol('late');

/** `work`'s result if it settles within `ms`, else LATE; its failure is thrown. */
export async function settledWithin<T>(work: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<typeof LATE>((resolve) => {
        timer = setTimeout(resolve, ms, LATE);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `work`'s result, or undefined once it fails or takes longer than `ms`: for what a scrape or an
 * admin view reads from Redis, which must answer even when Redis does not.
 */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  const result = await settledWithin(
    work.catch(() => undefined),
    ms,
  );
  return result === LATE ? undefined : result;
}
