import { describe, expect, it } from '@jest/globals';
import { errors } from './errors.js';

describe('errors', () => {
  it.each(Object.entries(errors))('%s carries its own name as code', (name, SpoolError) => {
    expect(new SpoolError('x', 1).code).toBe(name);
  });

  it('gives every error a 4xx or a 503 status', () => {
    for (const SpoolError of Object.values(errors)) {
      const { statusCode } = new SpoolError('x', 1);
      expect(statusCode === 503 || (statusCode >= 400 && statusCode < 500)).toBe(true);
    }
  });
});
