/**
 * JSON.parse, except that an integer past 2^53 keeps the digits it was sent with. JavaScript reads
 * every number as a double, so the 64-bit ids that Go, Java and Python clients send
 * (`9007199254740993`, `1234567890123456789`) came out with their last digits changed, and the
 * stored event said something its client never sent. Such a number is held as `JSON.rawJSON` of
 * its text, which JSON.stringify writes as it is (Node 21+: the reviver's `context.source`).
 *
 * Only whole numbers: most clients send a decimal from a double of their own, whose shortest form
 * JSON.stringify writes back alike; a decimal with more digits than a double holds keeps only
 * those (docs/api.md#what-is-stored). Finding such an integer is a walk of the parsed body (about
 * 2 µs for 100 events against JSON.parse's 23); a body that holds one is parsed again with a
 * reviver, some five times JSON.parse's cost, bounded by the body's limit as the first parse is.
 */

/** A number held as the text it was sent with. */
export interface RawNumber {
  readonly rawJSON: string;
}

// Node 24's JSON has both; TypeScript's lib does not declare them yet.
const json = JSON as JSON & {
  rawJSON(text: string): RawNumber;
  isRawJSON(value: unknown): value is RawNumber;
};

/** Whether `value` is a number held as its text (parseExactJson): a number, not an object. */
export const isRawNumber = (value: unknown): value is RawNumber => json.isRawJSON(value);

/** An integer a double cannot hold exactly: its digits were changed as it was read. */
const isUnsafeInteger = (value: unknown) =>
  typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value);

/** Whether any number in `root` is an unsafe integer. Iterative: a deep body blows no stack. */
function holdsUnsafeInteger(root: unknown): boolean {
  if (typeof root !== 'object' || root === null) return isUnsafeInteger(root);
  const stack: object[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === 'object') {
          if (item !== null) stack.push(item);
        } else if (isUnsafeInteger(item)) return true;
      }
      continue;
    }
    // JSON.parse makes plain objects: for…in meets no inherited key.
    for (const key in value) {
      const child = (value as Record<string, unknown>)[key];
      if (typeof child === 'object') {
        if (child !== null) stack.push(child);
      } else if (isUnsafeInteger(child)) return true;
    }
  }
  return false;
}

function keepUnsafeIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  return isUnsafeInteger(value) && context?.source !== undefined ? json.rawJSON(context.source) : value;
}

/**
 * JSON.parse of `text`, with each integer past 2^53 held as the text it was sent with. Throws as
 * JSON.parse. V8's reviver recurses: a body nested a thousand levels deep or more overflows the
 * stack, and is then read as doubles, as before (any event of it that deep is refused anyway:
 * MAX_EVENT_DEPTH).
 */
export function parseExactJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!holdsUnsafeInteger(value)) return value;
  try {
    return JSON.parse(text, keepUnsafeIntegers);
  } catch (error) {
    if (error instanceof RangeError) return value;
    throw error;
  }
}
