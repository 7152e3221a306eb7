import { type Logger, type LoggerOptions, pino } from 'pino';

/**
 * pino options shared by both processes: one JSON event per line, the process name on every line,
 * and credentials redacted wherever a request or configuration object is logged.
 */
export function loggerOptions(name: string, level: string): LoggerOptions {
  return {
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'config.writeKeys', '*.writeKeys'],
      censor: '[redacted]',
    },
  };
}

export function createLogger(name: string, level: string): Logger {
  return pino(loggerOptions(name, level));
}
