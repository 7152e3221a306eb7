import { describe, expect, it } from '@jest/globals';
import { withoutSpoolSettings } from './inherited-env.js';

describe('withoutSpoolSettings', () => {
  it("leaves out Spool's settings, their file forms included, and keeps everything else", () => {
    expect(
      withoutSpoolSettings({
        S3_PREFIX: 'events/',
        WRITE_KEYS_FILE: '/run/secrets/keys',
        LOG_LEVEL: 'debug',
        AWS_ACCESS_KEY_ID: 'x',
        PATH: '/bin',
        TEST_REDIS_URL: 'redis://127.0.0.1:6379',
        AWS_PROFILE: 'dev',
        SPOOL_DEV_REDIS_PORT: '6390',
      }),
    ).toEqual({
      PATH: '/bin',
      TEST_REDIS_URL: 'redis://127.0.0.1:6379',
      AWS_PROFILE: 'dev',
      SPOOL_DEV_REDIS_PORT: '6390',
    });
  });
});
