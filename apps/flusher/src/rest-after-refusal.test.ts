import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Worker } from 'bullmq';
import { restAfterRefusals } from './rest-after-refusal.js';

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

/** What restAfterRefusals uses of a BullMQ worker: its events, pause, resume and closing. */
function fakeWorker() {
  const worker = Object.assign(new EventEmitter(), {
    closing: undefined as Promise<void> | undefined,
    calls: [] as string[],
    async pause() {
      worker.calls.push('pause');
    },
    async resume() {
      worker.calls.push('resume');
    },
  });
  return worker;
}

describe('restAfterRefusals', () => {
  it('pauses the worker once per refusal streak, and resumes it after the rest', () => {
    const worker = fakeWorker();
    const rest = restAfterRefusals(worker as unknown as Worker, 1_000);
    const oom = new Error('OOM command not allowed');
    for (let i = 0; i < 100; i += 1) worker.emit('error', oom);
    expect(worker.calls).toEqual(['pause']);
    expect(rest.resting()).toBe(true);

    jest.advanceTimersByTime(999);
    expect(worker.calls).toEqual(['pause']);
    jest.advanceTimersByTime(1);
    expect(worker.calls).toEqual(['pause', 'resume']);
    expect(rest.resting()).toBe(false);

    worker.emit('error', oom);
    expect(worker.calls).toEqual(['pause', 'resume', 'pause']);
  });

  it('neither pauses nor resumes a worker that is closing', () => {
    const worker = fakeWorker();
    const rest = restAfterRefusals(worker as unknown as Worker, 1_000);
    worker.emit('error', new Error('MISCONF'));
    worker.closing = Promise.resolve();
    worker.emit('closing', 'closing');
    jest.advanceTimersByTime(5_000);
    worker.emit('error', new Error('MISCONF'));
    expect(worker.calls).toEqual(['pause']);
    expect(rest.resting()).toBe(false);
  });
});
