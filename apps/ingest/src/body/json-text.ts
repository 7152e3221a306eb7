import { isRawNumber } from './exact-json.js';

/** An array or object being written: its members, its keys (an object's), the next to write. */
interface Open {
  members: unknown[] | Record<string, unknown>;
  keys: string[] | undefined;
  next: number;
}

/**
 * A refused value's text for the quarantine: its JSON, written until it holds at least `most`
 * UTF-16 units (the quarantine keeps that many: the caller cuts it). A member at a time, with a
 * stack of its own: JSON.stringify recursed, and with a replacer ran out of the call stack at some
 * 2,300 levels of arrays (a body of 4.6 KB), and such a value's text was lost (a review's run).
 * A number past a double's range, which the parser read as Infinity, is written `1e999` (or
 * `-1e999`): JSON's own `null` for it would hide why the event was refused. Values are what the
 * body parser makes: plain objects and arrays, strings, numbers (a RawJSON for an integer past
 * 2^53, written as it came), booleans and null.
 */
export function jsonText(value: unknown, most: number): string {
  let text = '';
  const open: Open[] = [];
  let pending: { value: unknown } | undefined = { value };
  while (text.length < most) {
    if (pending) {
      const member = pending.value;
      pending = undefined;
      if (Array.isArray(member)) {
        text += '[';
        open.push({ members: member, keys: undefined, next: 0 });
      } else if (member !== null && typeof member === 'object' && !isRawNumber(member)) {
        text += '{';
        const object = member as Record<string, unknown>;
        open.push({ members: object, keys: Object.keys(object), next: 0 });
      } else {
        text += scalarText(member, open.length === 0);
      }
      continue;
    }
    const current = open.at(-1);
    if (!current) break;
    const { members, keys } = current;
    if (current.next === (keys ?? (members as unknown[])).length) {
      text += keys ? '}' : ']';
      open.pop();
      continue;
    }
    if (current.next > 0) text += ',';
    if (keys) {
      const key = keys[current.next] as string;
      text += `${JSON.stringify(key)}:`;
      pending = { value: (members as Record<string, unknown>)[key] };
    } else {
      pending = { value: (members as unknown[])[current.next] };
    }
    current.next += 1;
  }
  return text;
}

function scalarText(value: unknown, alone: boolean): string {
  if (isRawNumber(value)) return value.rawJSON;
  if (typeof value === 'number' && !Number.isFinite(value) && !Number.isNaN(value)) {
    return value > 0 ? '1e999' : '-1e999';
  }
  // JSON.stringify's: `null` for what JSON has no form of in an array (undefined, NaN).
  return JSON.stringify(value) ?? (alone ? String(value) : 'null');
}
