import { type Logger, type LoggerOptions, pino } from 'pino';
import { percentDecoded } from './percent-decoded.js';

/** How deep an error's properties are searched for commands (causes, previous errors). */
const MAX_ERROR_DEPTH = 4;

function isCommand(value: unknown): value is { name?: unknown; args?: unknown } {
  return typeof value === 'object' && value !== null && 'args' in value;
}

/**
 * What an error echoes of a request: what S3 echoes of one it refused as wrongly signed
 * (SignatureDoesNotMatch), which the AWS SDK puts on its error: the access key's id, and the
 * signed request, with the object's key and its metadata (a review's run logged all of them); and
 * the bytes Node's HTTP parser refused (`rawPacket`): a request line's `?token=`, the start of an
 * `Authorization` header (a review's run, Fastify's own client-error line at `trace`).
 */
const ECHOED_REQUEST = new Set([
  'rawPacket',
  'AWSAccessKeyId',
  'StringToSign',
  'StringToSignBytes',
  'CanonicalRequest',
  'CanonicalRequestBytes',
  'SignatureProvided',
]);

/**
 * What one logged error may hold: an S3 error answer is copied onto the AWS SDK's exception field
 * by field, and a store that answered with 683 fields of 250 characters and a nested element of
 * 200 KB made one log line of 7.8 MB (a review's run). Past these, text is cut and fields left out.
 */
const ERROR_TEXT_MOST = 4_096;
const ERROR_FIELDS_MOST = 40;
const ERROR_CHARACTERS_MOST = 32_768;

/**
 * A copy of a serialized error in which every `command` keeps its name and loses its arguments,
 * a request's echo is left out, and the whole is bounded (ERROR_*_MOST): each text
 * cut, each object's fields past the first ERROR_FIELDS_MOST counted instead, and once the error's
 * text passes ERROR_CHARACTERS_MOST in all, the rest left out.
 */
function withoutCommandArguments(
  value: unknown,
  depth: number,
  budget = { left: ERROR_CHARACTERS_MOST },
): unknown {
  if (typeof value === 'string') {
    if (budget.left <= 0) return '[cut]';
    const kept = value.length > ERROR_TEXT_MOST ? `${value.slice(0, ERROR_TEXT_MOST)}…` : value;
    budget.left -= kept.length;
    return kept;
  }
  if (depth > MAX_ERROR_DEPTH || typeof value !== 'object' || value === null) return value;
  if (budget.left <= 0) return '[cut]';
  const entries = Array.isArray(value) ? [...value.entries()] : Object.entries(value);
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  for (const [key, child] of entries.slice(0, ERROR_FIELDS_MOST)) {
    (copy as Record<string | number, unknown>)[key] = ECHOED_REQUEST.has(String(key))
      ? '[not logged]'
      : key === 'command' && isCommand(child)
        ? { name: child.name, args: '[not logged]' }
        : withoutCommandArguments(child, depth + 1, budget);
  }
  if (entries.length > ERROR_FIELDS_MOST) {
    const more = `${entries.length - ERROR_FIELDS_MOST} more not logged`;
    if (Array.isArray(copy)) copy.push(more);
    else copy['…'] = more;
  }
  return copy;
}

/**
 * pino's error serializer, less the arguments of failed Redis commands: ioredis attaches them to
 * its errors (`command.args`), and for an append they are the events themselves, personal data
 * included. Only the command's name is logged. Nor is what S3 or Node's HTTP parser echo of a request.
 */
export function serializeError(error: unknown): unknown {
  return withoutCommandArguments(pino.stdSerializers.err(error as Error), 0);
}

/**
 * Query parameters that may carry credentials, their values not logged: the beacon's
 * `?writeKey=`, and any name that reads as a key, token, secret, password (`pass`, `pwd`), auth,
 * signature (`sig`), JWT, credential, session or bearer once lower-cased and stripped to letters
 * and digits. A client that mistypes the parameter (`writeKey[]=`, `api_key=`, `key=`,
 * ` writeKey=`) still sends its key, and the request is still logged. A harmless name that
 * matches (`signup=`) loses only its value in the log.
 */
const SECRET_PARAMETER = /key|token|secret|pass|pwd|auth|sig|jwt|cred|session|bearer/;
const isSecretParameter = (name: string) =>
  SECRET_PARAMETER.test(
    percentDecoded(name.replaceAll('+', ' '))
      .toLowerCase()
      .replace(/[^a-z0-9]/g, ''),
  );

/**
 * The path that carries a write key: analytics.js's settings, `/v1/projects/<writeKey>/settings`,
 * and its mistyped forms, which a client sends the key in as well (`/v2/projects/<key>/…`,
 * `/v1/project/<key>/…`, `/projects/<key>/…`): a `project(s)` first or second segment.
 */
const SECRET_PATH = /^((?:\/[^/]+)?\/projects?\/)/i;

/**
 * A credential parameter's name as logged: as sent when it is plainly a name, else `[redacted]`
 * too. A name can hold the key itself: the pair encoded whole (`writeKey%3D<key>=…`, twice
 * encoded `writeKey%253D<key>`), or written with another separator (`writeKey:<key>`): reviews' runs.
 */
function shownName(name: string): string {
  return /^[\w.[\]-]{1,64}$/.test(name) ? name : '[redacted]';
}

/**
 * A `name=value` in a path (after a `/`, `&` or `;`): a client that put its query in the path,
 * without its `?` (`/beacon/v1/batch&writeKey=<key>`, `…;writeKey=<key>`), sent its key there,
 * and the path was logged as it came (a review's run).
 */
const PATH_PARAMETER = /[/&;]([^/&;=]*)=/g;

/** `path` (read as `readPath`), or as much of it as comes before a credential parameter in it. */
function pathWithoutSecrets(path: string, readPath: string): string {
  for (const match of readPath.matchAll(PATH_PARAMETER)) {
    if (isSecretParameter(match[1] as string)) {
      return `${readPath.slice(0, match.index + match[0].length)}[redacted]`;
    }
  }
  return path;
}

/** An absolute-form request target's scheme and authority (`GET http://host/v1/… HTTP/1.1`), which the router drops. */
export const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * A URL as it may be logged: credentials in its path and query replaced. Both are read as the
 * router and the query parser read them: an absolute-form target by its path, the path ended by
 * the first `?` or `#`, percent-decoded with its slashes collapsed, in any case. So
 * `/v1/%70rojects/<key>/…`, `//v1/projects/<key>/…`, `?write%4Bey=<key>` and `#writeKey=<key>`
 * are hidden too. Everything after `/v1/projects/` (or a mistyped form of it) is hidden but a
 * last `settings` (a key may hold a `/`, encoded).
 */
export function loggableUrl(url: string): string {
  const absolute = ABSOLUTE_FORM.exec(url)?.[0] ?? '';
  // Its user information too (`http://user:<key>@host/…`: a review's run logged it).
  const origin = absolute.replace(/\/\/[^/?#]*@/, '//[redacted]@');
  const target = url.slice(absolute.length);
  const queryAt = target.search(/[?#]/);
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  const readPath = percentDecoded(path).replace(/\/{2,}/g, '/');
  const secret = SECRET_PATH.exec(readPath);
  const loggedPath = secret
    ? `${secret[1]}[redacted]${/\/settings$/i.test(readPath) ? '/settings' : ''}`
    : pathWithoutSecrets(path, readPath);
  if (queryAt === -1) return `${origin}${loggedPath}`;
  // Names are looked for after `;`, `#` and `?` too: not separators the ingest reads, but other
  // software does, and a key came to the log whole after one (`?a=1;writeKey=<key>`,
  // `#x=1?writeKey=<key>`: reviews' runs). Each separator is kept as sent. A secret's value is
  // hidden up to the next `&`, where the ingest's parser ends it: one holding a `;` or a `#`
  // (`password=abc;def`, a key `ab#cd`) showed what followed them.
  const parts = target.slice(queryAt + 1).split(/([&;#?])/);
  let query = '';
  let hiding = false;
  for (let index = 0; index < parts.length; index += 2) {
    const separator = index === 0 ? '' : (parts[index - 1] as string);
    const part = parts[index] as string;
    if (hiding && separator !== '&') continue;
    const name = part.split('=', 1)[0] as string;
    hiding = isSecretParameter(name);
    query += separator + (hiding ? `${shownName(name)}=[redacted]` : part);
  }
  return `${origin}${loggedPath}${target[queryAt]}${query}`;
}

export interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  socket?: { remotePort?: number };
}

/** What a log keeps of a request's client address: all of it, unless the process says otherwise. */
export type LoggedAddress = (request: LoggedRequest) => string | undefined;

const wholeAddress: LoggedAddress = (request) => request.ip;

/**
 * What `loggedAddress` keeps of the request's address, or none when it throws: a throw in a
 * serializer ends the process (a client's X-Forwarded-For did so, a review's run).
 */
function addressOrNone(loggedAddress: LoggedAddress, request: LoggedRequest): string | undefined {
  try {
    return loggedAddress(request);
  } catch {
    return undefined;
  }
}

/**
 * Fastify's request serializer, less the credentials a query may carry, and with as much of the
 * client's address as `loggedAddress` keeps (the ingest's IP_POLICY).
 */
function serializeRequest(request: LoggedRequest, loggedAddress: LoggedAddress = wholeAddress) {
  return {
    method: request.method,
    url: request.url === undefined ? undefined : loggableUrl(request.url),
    host: request.host,
    remoteAddress: addressOrNone(loggedAddress, request),
    remotePort: request.socket?.remotePort,
  };
}

/**
 * pino options shared by both processes: one JSON event per line, the process name on every line,
 * credentials redacted wherever a request or configuration object is logged (headers, and keys in
 * a URL's query), and no event data in logged errors.
 */
export function loggerOptions(
  name: string,
  level: string,
  loggedAddress: LoggedAddress = wholeAddress,
): LoggerOptions {
  return {
    name,
    level,
    serializers: {
      err: serializeError,
      error: serializeError,
      req: (request: LoggedRequest) => serializeRequest(request, loggedAddress),
    },
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        'req.headers["x-write-key"]',
        'headers["x-write-key"]',
        'config.writeKeys',
        '*.writeKeys',
      ],
      censor: '[redacted]',
    },
  };
}

export function createLogger(name: string, level: string, loggedAddress?: LoggedAddress): Logger {
  return pino(loggerOptions(name, level, loggedAddress));
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
type LogArguments = Parameters<Logger['info']>;

/**
 * A request's logger that becomes pino's child logger only when something is logged at an
 * enabled level. pino serializes a child's bindings (the request id) when the child is made, and
 * at the levels services run at most requests log nothing: measured at 2 % of the ingest's CPU
 * on single-event requests.
 */
class LazyChildLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
    private readonly options: object,
  ) {}

  private real(): Logger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  private write(level: Level, args: LogArguments): void {
    if (this.isLevelEnabled(level)) (this.real()[level] as (...a: LogArguments) => void)(...args);
  }

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }

  child(bindings: Record<string, unknown>, options?: object): Logger {
    return this.real().child(bindings, options);
  }

  trace(...args: LogArguments): void {
    this.write('trace', args);
  }

  debug(...args: LogArguments): void {
    this.write('debug', args);
  }

  info(...args: LogArguments): void {
    this.write('info', args);
  }

  warn(...args: LogArguments): void {
    this.write('warn', args);
  }

  error(...args: LogArguments): void {
    this.write('error', args);
  }

  fatal(...args: LogArguments): void {
    this.write('fatal', args);
  }

  silent(): void {}
}

/**
 * Fastify's `childLoggerFactory` for request loggers made only when used (LazyChildLogger). A
 * route with a level of its own (`logLevel`) gets pino's child at once: its level is not the
 * parent's.
 */
export function lazyChildLogger(
  logger: Logger,
  bindings: Record<string, unknown>,
  options: { level?: string },
): Logger {
  if (options.level !== undefined) return logger.child(bindings, options);
  return new LazyChildLogger(logger, bindings, options) as unknown as Logger;
}
