import { describe, expect, it } from '@jest/globals';
import { refusedByAcl, replyCode } from './reply-code.js';

describe('replyCode', () => {
  it("is a reply's first word", () => {
    expect(replyCode("READONLY You can't write against a read only replica.")).toBe('READONLY');
    expect(replyCode('NOSCRIPT No matching script. Please use EVAL.')).toBe('NOSCRIPT');
    expect(replyCode("ERR unknown command 'FOO'")).toBe('ERR');
    expect(replyCode('')).toBe('');
  });

  it("is the refused command's code when Redis 7.0 passes a script's error on", () => {
    const from70 =
      "READONLY You can't write against a read only replica. script: a48e8a1f6b4e79b1a3be2f0e1c7d6b1e0c4a9f11, on @user_script:1.";
    expect(replyCode(from70)).toBe('READONLY');
  });

  // The text Redis 6.x answers (spring-data-redis#3042 quotes it; redis/redis#10279 for OOM): its
  // scripting.c wraps the command's reply in `Error running script`.
  it("is the refused command's code inside the error Redis 6.2 wraps a script's error in", () => {
    const readonly62 =
      "ERR Error running script (call to f_a48e8a1f6b4e79b1a3be2f0e1c7d6b1e0c4a9f11): @user_script:28: @user_script: 28: -READONLY You can't write against a read only replica. ";
    const oom62 =
      "ERR Error running script (call to f_a48e8a1f6b4e79b1a3be2f0e1c7d6b1e0c4a9f11): @user_script:1: @user_script: 1: -OOM command not allowed when used memory > 'maxmemory'. ";
    expect(replyCode(readonly62)).toBe('READONLY');
    expect(replyCode(oom62)).toBe('OOM');
    // A script's own error, no command's reply in it: the generic code.
    expect(
      replyCode(
        'ERR Error running script (call to f_0a): @user_script:3: user_script:3: attempt to compare nil with number ',
      ),
    ).toBe('ERR');
  });
});

describe('refusedByAcl', () => {
  it("is a NOPERM reply's, as Redis 7.0 words it, and no other's", () => {
    expect(refusedByAcl("NOPERM this user has no permissions to run the 'info' command")).toBe(true);
    expect(refusedByAcl("ERR unknown command 'INFO'")).toBe(false);
    expect(refusedByAcl('ERR max number of clients reached')).toBe(false);
    expect(refusedByAcl(undefined)).toBe(false);
  });
});
