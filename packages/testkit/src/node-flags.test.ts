import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { SPOOL_NODE_FLAGS } from './spool-services.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

describe('SPOOL_NODE_FLAGS', () => {
  it.each(Object.entries(SPOOL_NODE_FLAGS))(
    'are the flags the %s image and its start script run node with',
    (app, flags) => {
      const command = ['node', ...flags, 'dist/main.js'];
      expect(read(`docker/${app}.Dockerfile`)).toContain(
        `\nCMD ${JSON.stringify(command).replaceAll(',', ', ')}`,
      );
      const start = (JSON.parse(read(`apps/${app}/package.json`)) as { scripts: { start: string } }).scripts
        .start;
      expect(start).toBe(command.join(' '));
    },
  );
});
