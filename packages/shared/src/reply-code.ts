/**
 * Redis before 7.0 wraps an error a script's own command met: `ERR Error running script (call to
 * f_<sha>): @user_script:28: @user_script: 28: -READONLY You can't write against a read only
 * replica.` Redis 7.0 passes the command's reply on as it is (`READONLY You can't …`).
 */
const SCRIPT_WRAPPED = /^ERR Error running script \(call to [^)]*\):.*? -([A-Z][A-Z_]*) /;

/**
 * The code an error reply of Redis starts with (READONLY, OOM, NOSCRIPT; ERR for a generic one),
 * the same from Redis 6.2 as from 7.0 when a command inside a script was refused.
 */
export function replyCode(message: string): string {
  return SCRIPT_WRAPPED.exec(message)?.[1] ?? message.split(' ', 1)[0] ?? '';
}

/** Whether Redis refused a command to this user by its ACL (`NOPERM …`), given the error's text. */
export function refusedByAcl(message: string | undefined): boolean {
  return message !== undefined && replyCode(message) === 'NOPERM';
}
