import { SETTINGS } from '@spool/shared';

const spoolSettings = new Set(SETTINGS);

/**
 * `env` (this process's environment) without Spool's settings: what a Spool process a test starts
 * inherits, the test then giving it the settings it means. A setting exported in the shell that
 * ran the tests reached those processes: with `S3_PREFIX=events/` the lake test's flusher wrote
 * under `events/`, where its queries did not look, and its 16 tests failed (a review's run).
 * `make dev` is the exception: its processes take the user's settings (LocalStackOptions).
 */
export function withoutSpoolSettings(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !spoolSettings.has(name)));
}
