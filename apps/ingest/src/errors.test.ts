import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { errors } from './errors.js';

const API_DOCS = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');

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

  it.each(Object.keys(errors))('%s is documented in docs/api.md', (code) => {
    expect(API_DOCS).toContain(`\`${code}\``);
  });
});
