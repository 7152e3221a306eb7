import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import type { FastifyError } from 'fastify';
import { errorAnswer } from './error-answers.js';
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

describe('errorAnswer', () => {
  it.each([undefined, 500, 502])(
    'answers a defect (status %s) as SPOOL_INTERNAL, never with its own message',
    (statusCode) => {
      const defect = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:6379 (secret detail)'), {
        statusCode,
      }) as FastifyError;
      const answer = errorAnswer(defect, 1024, '/v1/streams/web/events');
      expect(answer).toMatchObject({
        statusCode: statusCode ?? 500,
        internal: true,
        body: { code: 'SPOOL_INTERNAL', message: 'Internal error' },
      });
    },
  );
});
