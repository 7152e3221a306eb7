import { describe, expect, it } from '@jest/globals';
import { UnrecoverableError } from 'bullmq';
import { withBoundedMessage } from './flush-errors.js';

describe('withBoundedMessage', () => {
  it('leaves a short error as it is, the same object', () => {
    const error = new Error('S3 refused');
    const stack = error.stack;
    expect(withBoundedMessage(error)).toBe(error);
    expect(error.stack).toBe(stack);
    expect(withBoundedMessage('text')).toBe('text');
  });

  it("cuts the name, the message, the stack's head and text fields, keeping the class and the frames", () => {
    const error = new UnrecoverableError('x'.repeat(100_000));
    error.name = 'C'.repeat(100_000);
    Object.assign(error, { Code: 'C'.repeat(100_000), RequestId: 'r-1' });
    const bounded = withBoundedMessage(error) as UnrecoverableError & { Code: string; RequestId: string };
    expect(bounded).toBe(error);
    expect(bounded).toBeInstanceOf(UnrecoverableError);
    expect(bounded.name).toBe(`${'C'.repeat(100)}…`);
    expect(bounded.message).toBe(`${'x'.repeat(300)}…`);
    expect(bounded.stack).toMatch(/^C{100}…: x{300}…\n {4}at /);
    expect(bounded.Code).toBe(`${'C'.repeat(300)}…`);
    expect(bounded.RequestId).toBe('r-1');
  });

  it("escapes the acting characters of S3's text, which Bull Board shows as it is (a U+202E reversed what followed)", () => {
    const error = Object.assign(
      new Error('Please reduce your request rate. \u202e.yllamron gnidnal\u001b[2J'),
      {
        name: 'SlowDown\u0007',
      },
    );
    const bounded = withBoundedMessage(error) as Error;
    expect(bounded.name).toBe('SlowDown\\u0007');
    expect(bounded.message).toBe('Please reduce your request rate. \\u202e.yllamron gnidnal\\u001b[2J');
    expect(bounded.stack).toMatch(/^SlowDown\\u0007: Please reduce your request rate\. \\u202e/);
  });

  it('cuts a stack of many frames, and one whose head is not its message', () => {
    const error = new Error('short');
    error.stack = `Something else\n${'    at frame (file.js:1:1)\n'.repeat(2_000)}`;
    const bounded = withBoundedMessage(error) as Error;
    expect(bounded.stack?.startsWith('Error: short\n    at frame')).toBe(true);
    expect(bounded.stack?.length).toBeLessThan(8_500);
  });

  it('replaces an error it cannot change (frozen) with an Error of the bounded text', () => {
    const error = Object.freeze(Object.assign(new Error('x'.repeat(100_000)), { name: 'Frozen' }));
    const bounded = withBoundedMessage(error) as Error;
    expect(bounded).not.toBe(error);
    expect([bounded.name, bounded.message]).toEqual(['Frozen', `${'x'.repeat(300)}…`]);
    const dom = new DOMException('y'.repeat(100_000), 'AbortError');
    const domBounded = withBoundedMessage(dom) as Error;
    expect(domBounded.message).toBe(`${'y'.repeat(300)}…`);
  });
});
