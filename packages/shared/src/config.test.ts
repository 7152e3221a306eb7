import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig, nearestSetting, OTHER_PROCESS_KEYS, unknownSettings } from './config.js';
import { entriesBasicCannotCarry, entriesUrlsCannotCarry } from './config-fields.js';

const MiB = 1024 * 1024;
/** An ingest must be told it may run open; most tests here are about other variables. */
const OPEN = { ALLOW_ANONYMOUS_WRITES: 'true' };
/** A flusher must be given its bucket, the same. */
const BUCKET = { S3_BUCKET: 'b' };

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    const config = loadConfig(OPEN, 'ingest');
    expect(config).toMatchObject({
      redis: { kind: 'standalone', url: 'redis://127.0.0.1:6379' },
      minReplicasAck: 0,
      redisCommandTimeoutMs: 3_000,
      host: '0.0.0.0',
      port: 8080,
      flushThresholdBytes: 32 * MiB,
      flushIntervalMs: 300_000,
      maxBufferBytes: 128 * MiB,
      maxEventBytes: 32 * 1024,
      maxBodyBytes: MiB,
      writeKeys: [],
      allowAnonymousWrites: true,
      maxEventsPerRequest: 2_500,
      maxRequestStoredBytes: 2 * MiB,
      dedupeWindowMs: 600_000,
      trustProxy: false,
      flushConcurrency: 2,
      logLevel: 'info',
    });
    // The tracking API's body limit: RudderStack's browser SDK sends batches of up to 512 KiB.
    expect(config.tracking.maxBatchBytes).toBe(MiB);
    expect(config.metricsPort).toBeUndefined();
    expect(loadConfig({ ...OPEN, METRICS_PORT: '9464' }, 'ingest').metricsPort).toBe(9464);
    expect(config.metricsHosts).toEqual([]);
    expect(
      loadConfig(
        { ...OPEN, METRICS_HOSTS: ' Spool-Ingest., *.svc.cluster.local ,*,spool_ingest_1' },
        'ingest',
      ).metricsHosts,
    ).toEqual(['spool-ingest', '*.svc.cluster.local', '*', 'spool_ingest_1']);
    expect(loadConfig({ ...BUCKET, METRICS_HOSTS: 'spool-flusher' }, 'flusher').metricsHosts).toEqual([
      'spool-flusher',
    ]);
    expect(config.s3.partBytes).toBe(8 * MiB);
    expect(loadConfig(BUCKET, 'flusher').port).toBe(9091);
  });

  it('takes a cluster from REDIS_CLUSTER_NODES, and refuses it beside REDIS_URL', () => {
    const config = loadConfig({ ...OPEN, REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7001' }, 'ingest');
    expect(config.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(() =>
      loadConfig({ ...OPEN, REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_URL: 'redis://r:6379' }, 'ingest'),
    ).toThrow(/REDIS_CLUSTER_NODES: REDIS_URL is set too/);
    expect(() => loadConfig({ ...OPEN, REDIS_CLUSTER_NODES: '10.0.0.1' }, 'ingest')).toThrow(
      /REDIS_CLUSTER_NODES: expected host:port,host:port,…: entry 1 is not host:port/,
    );
    expect(() => loadConfig({ ...OPEN, REDIS_MIN_REPLICAS_ACK: '-1' }, 'ingest')).toThrow(
      /REDIS_MIN_REPLICAS_ACK/,
    );
  });

  it('takes OUTPUT_FORMAT for every stream or by stream, and refuses what it cannot write', () => {
    const flusher = (env: Record<string, string>) => loadConfig({ ...BUCKET, ...env }, 'flusher');
    expect(flusher({}).outputFormat.default).toBe('ndjson.gz');
    const { outputFormat } = flusher({ OUTPUT_FORMAT: 'web:ndjson.zst,*:ndjson.gz' });
    expect(outputFormat.default).toBe('ndjson.gz');
    expect(outputFormat.streams.get('web')).toBe('ndjson.zst');
    expect(flusher({ OUTPUT_FORMAT: 'parquet' }).outputFormat.default).toBe('parquet');
    expect(loadConfig({ ...OPEN, GROUP_COMMIT_WINDOW: '100ms' }, 'ingest').groupCommitWindowMs).toBe(100);
    // 16 of the largest bodies by default, following MAX_BODY_BYTES.
    expect(loadConfig(OPEN, 'ingest').maxInflightBytes).toBe(16 * 1024 ** 2);
    expect(loadConfig({ ...OPEN, MAX_BODY_BYTES: '4MiB' }, 'ingest').maxInflightBytes).toBe(64 * 1024 ** 2);
    expect(loadConfig({ ...OPEN, MAX_INFLIGHT_BYTES: '8MiB' }, 'ingest').maxInflightBytes).toBe(
      8 * 1024 ** 2,
    );
    expect(flusher({ S3_PREFIX: 'events/2026/' }).s3.prefix).toBe('events/2026/');
    // An empty segment: MinIO refuses the keys, and so does the S3 stand-in; every flush failed.
    for (const prefix of ['/events/', 'a//b/', '/']) {
      expect(() => flusher({ S3_PREFIX: prefix })).toThrow(
        `S3_PREFIX: empty, or a segment of "${prefix}" is empty`,
      );
    }
    expect(() => flusher({ OUTPUT_FORMAT: 'csv' })).toThrow(
      /OUTPUT_FORMAT: expected ndjson.gz or ndjson.zst or parquet/,
    );
    expect(() => flusher({ OUTPUT_FORMAT: 'web:csv' })).toThrow(/OUTPUT_FORMAT/);
  });

  it('listens on HOST as an IP address or a host name, as given', () => {
    for (const host of [
      '::',
      '127.0.0.1',
      '::ffff:10.0.0.1',
      'localhost',
      'spool-ingest',
      'Ingest.Example.COM.',
    ])
      expect(loadConfig({ ...OPEN, HOST: host }, 'ingest').host).toBe(host);
  });

  it('is frozen', () => {
    const config = loadConfig(OPEN, 'ingest');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.s3)).toBe(true);
  });

  it('reads units and write keys', () => {
    const env = {
      FLUSH_THRESHOLD_BYTES: '1MiB',
      MAX_BUFFER_BYTES: '8MiB',
      FLUSH_INTERVAL: '30s',
      WRITE_KEYS: 'key-one-123:web,ios; key-two-456:*',
      ...BUCKET,
      S3_FORCE_PATH_STYLE: 'true',
      S3_PART_SIZE: '5MiB',
    };
    const flusher = loadConfig(env, 'flusher');
    expect(flusher.flushThresholdBytes).toBe(MiB);
    expect(flusher.maxBufferBytes).toBe(8 * MiB);
    expect(flusher.flushIntervalMs).toBe(30_000);
    expect(flusher.s3.forcePathStyle).toBe(true);
    expect(flusher.s3.partBytes).toBe(5 * MiB);
    const config = loadConfig(env, 'ingest');
    expect(config.maxBufferBytes).toBe(8 * MiB);
    expect(config.writeKeys).toEqual([
      { key: 'key-one-123', streams: new Set(['web', 'ios']) },
      { key: 'key-two-456', streams: '*' },
    ]);
  });

  it('caps the default buffer limit at what a Redis string can hold', () => {
    expect(loadConfig({ ...OPEN, FLUSH_THRESHOLD_BYTES: '200MiB' }, 'ingest').maxBufferBytes).toBe(512 * MiB);
  });

  it('makes the default buffer limit room for the threshold plus one whole request', () => {
    const config = loadConfig(
      { ...OPEN, FLUSH_THRESHOLD_BYTES: '64KiB', MAX_BODY_BYTES: '256KiB' },
      'ingest',
    );
    expect(config.maxBufferBytes).toBe(64 * 1024 + 2 * 256 * 1024);
  });

  it('reads the proxies to trust, and refuses what would let a client pick its own address', () => {
    expect(loadConfig({ ...OPEN, TRUST_PROXY: '10.0.0.0/8, loopback,::1' }, 'ingest').trustProxy).toEqual([
      '10.0.0.0/8',
      'loopback',
      '::1',
    ]);
    expect(() => loadConfig({ ...OPEN, TRUST_PROXY: 'true' }, 'ingest')).toThrow(
      /TRUST_PROXY: expected false/,
    );
    expect(() => loadConfig({ ...OPEN, TRUST_PROXY: '2' }, 'ingest')).toThrow(/TRUST_PROXY: expected false/);
    // What the regular expressions of an earlier version let through, and the proxy library threw on.
    // A prefix of 0 too: it names every client, and the library threw on it (exit 1, a stack trace).
    for (const bad of [
      '999.1.1.1',
      '10.0.0.0/33',
      ':',
      '::1/129',
      '10.0.0.1/8/8',
      '10.0.0.0/',
      '0.0.0.0/0',
      '::/0',
      '10.0.0.0/00',
      // An IPv4 range written as IPv6 is 96 bits shorter: this is 0.0.0.0/0 (a review's run).
      '::ffff:0:0/96',
      '::ffff:0.0.0.0/96',
      '::FFFF:0:0/90',
    ]) {
      expect(() => loadConfig({ ...OPEN, TRUST_PROXY: bad }, 'ingest')).toThrow(
        /TRUST_PROXY: expected false/,
      );
    }
    // An IPv4 range written as IPv6 is taken, 96 bits longer: this one is 10.0.0.0/8.
    expect(loadConfig({ ...OPEN, TRUST_PROXY: '::ffff:10.0.0.0/104' }, 'ingest').trustProxy).toEqual([
      '::ffff:10.0.0.0/104',
    ]);
    expect(loadConfig({ ...OPEN, TRUST_PROXY: 'fd00::/8,192.168.0.0/16' }, 'ingest').trustProxy).toEqual([
      'fd00::/8',
      '192.168.0.0/16',
    ]);
  });

  it('takes REDIS_URL as a redis:// or rediss:// URL or a socket path, and never repeats it in a refusal', () => {
    for (const url of [
      'redis://127.0.0.1:6379',
      'rediss://u:p@h:6380/2',
      'redis://h:6379/',
      'redis://[::1]:6379?family=6',
      '/run/redis.sock',
      '/run/redis.sock?db=3',
    ]) {
      expect(loadConfig({ ...OPEN, REDIS_URL: url }, 'ingest').redis).toEqual({ kind: 'standalone', url });
    }
    // Trimmed: ioredis took a leading tab for a socket path and a leading space for a crash, each
    // printing the password; a Secret written with `echo` ends in a newline.
    for (const padded of ['\tredis://h:6379', ' redis://h:6379', 'redis://h:6379\n']) {
      expect(loadConfig({ ...OPEN, REDIS_URL: padded }, 'ingest').redis).toEqual({
        kind: 'standalone',
        url: 'redis://h:6379',
      });
    }
    const refusals: Array<[string, RegExp]> = [
      ['http://127.0.0.1:6379', /expected redis:\/\/host:port/],
      ['127.0.0.1:6379', /expected redis:\/\/host:port/],
      ['redis://', /expected redis:\/\/host:port/],
      ['redis://:s3cret-pass@', /expected redis:\/\/host:port/],
      // Within the text, ioredis's URL parser drops a tab (and a space, escaped); a path was
      // SELECT NaN, a crash; a query, options of ioredis's own.
      ['redis://:s3cret-pass@h:6379\t/0', /holds a space or a control character/],
      ['redis://:s3cret pass@h:6379', /holds a space or a control character/],
      ['redis://:s3cret-pass@h:6379/abc', /the path must be a database number/],
      ['redis://:s3cret-pass@h:6379/2/x', /the path must be a database number/],
      ['redis://:s3cret-pass@h:6379?keyPrefix=x:', /the query may only be \?family/],
      ['redis://:s3cret-pass@h:6379/0?db=5', /the query may only be \?family/],
      ['/run/s3cret-pass.sock?keyPrefix=x', /a socket path takes no query but \?db/],
    ];
    for (const [bad, why] of refusals) {
      const refusal = () => loadConfig({ ...OPEN, REDIS_URL: bad }, 'ingest');
      expect(refusal).toThrow(new RegExp(`REDIS_URL: ${why.source}`));
      expect(refusal).not.toThrow(/s3cret-pass/);
    }
  });

  it('hands ioredis a REDIS_URL it reads as Spool does: scheme in lower case, user and password decodable', () => {
    // ioredis turns TLS on only for a URL starting with "rediss://", case-sensitively, while the
    // check above (WHATWG URL) reads any case: REDISS:// connected in clear text, logged as rediss://.
    for (const [given, expected] of [
      ['REDISS://u:p@h:6380/2', 'rediss://u:p@h:6380/2'],
      ['Rediss://h:6380', 'rediss://h:6380'],
      ['REDIS://h:6379', 'redis://h:6379'],
    ]) {
      expect(loadConfig({ ...OPEN, REDIS_URL: given }, 'ingest').redis).toEqual({
        kind: 'standalone',
        url: expected,
      });
    }
    // ioredis decodeURIComponent()s the user name and password: a bare "%" threw URIError from
    // `new Redis()`, a stack trace and exit 1 instead of a refusal naming REDIS_URL.
    for (const bad of ['redis://:50%off-s3cret-pass@h:6379', 'redis://us%er:s3cret-pass@h:6379']) {
      const refusal = () => loadConfig({ ...OPEN, REDIS_URL: bad }, 'ingest');
      expect(refusal).toThrow(/REDIS_URL: .*%25/);
      expect(refusal).not.toThrow(/s3cret-pass/);
    }
  });

  it("takes S3_REGION, else AWS_REGION (the AWS SDKs' variable), else us-east-1, and refuses one the SDK would refuse at the first flush", () => {
    const region = (env: Record<string, string>) => loadConfig({ ...BUCKET, ...env }, 'flusher').s3.region;
    expect(region({})).toBe('us-east-1');
    expect(region({ AWS_REGION: 'eu-west-1' })).toBe('eu-west-1');
    expect(region({ AWS_REGION: 'eu-west-1', S3_REGION: 'auto' })).toBe('auto');
    for (const [name, bad] of [
      ['S3_REGION', 'eu west 1'],
      ['S3_REGION', 'eu-west-1 '],
      ['S3_REGION', '-eu'],
      ['AWS_REGION', 'eu_west_1'],
    ] as const) {
      expect(() => region({ [name]: bad })).toThrow(
        new RegExp(`${name}: expected a region such as eu-west-1`),
      );
    }
    // The ingest never talks to S3: the AWS SDKs' variable is not its to refuse.
    expect(() => loadConfig({ ...OPEN, AWS_REGION: 'eu west' }, 'ingest')).not.toThrow();
  });

  it('refuses at start an S3_BUCKET that is no bucket name, which the SDK refused only at the first flush', () => {
    expect(loadConfig({ S3_BUCKET: 'Legacy_Bucket.2019-a' }, 'flusher').s3.bucket).toBe(
      'Legacy_Bucket.2019-a',
    );
    // `.` and `..` too: the SDK resolved them away, and HeadBucket answered 200 (a review's run).
    for (const bad of [
      'events/prod',
      'my bucket',
      'spool\n',
      'a'.repeat(256),
      '../x',
      '.',
      '..',
      'a..b',
      '-a',
      'a.',
    ]) {
      expect(() => loadConfig({ S3_BUCKET: bad }, 'flusher')).toThrow(/S3_BUCKET: expected a bucket name/);
    }
  });

  it('takes S3_ENDPOINT as an http:// or https:// URL only', () => {
    const flusher = BUCKET;
    expect(loadConfig({ ...flusher, S3_ENDPOINT: 'http://127.0.0.1:9000' }, 'flusher').s3.endpoint).toBe(
      'http://127.0.0.1:9000',
    );
    for (const bad of ['127.0.0.1:9000', 'ftp://s3.example.com', 's3.example.com']) {
      expect(() => loadConfig({ ...flusher, S3_ENDPOINT: bad }, 'flusher')).toThrow(
        /S3_ENDPOINT: expected an http:\/\/ or https:\/\/ URL/,
      );
    }
    // The SDK ignored them, and messages naming the endpoint printed them.
    for (const withCredentials of [
      'http://AKIAEXAMPLE:secretpw@127.0.0.1:9000',
      'https://key@s3.example.com',
    ]) {
      let refusal = '';
      try {
        loadConfig({ ...flusher, S3_ENDPOINT: withCredentials }, 'flusher');
      } catch (error) {
        refusal = (error as Error).message;
      }
      expect(refusal).toContain(
        'S3_ENDPOINT: no credentials in the URL: they go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      );
      expect(refusal).not.toMatch(/secretpw|AKIAEXAMPLE|key@/);
    }
  });

  it('takes the server-side encryption every write asks for, and refuses a KMS key it would not use', () => {
    const encryption = (env: Record<string, string>) =>
      loadConfig({ ...BUCKET, ...env }, 'flusher').s3.encryption;
    expect(encryption({})).toBeUndefined();
    expect(encryption({ S3_SERVER_SIDE_ENCRYPTION: 'AES256' })).toEqual({ ServerSideEncryption: 'AES256' });
    expect(encryption({ S3_SERVER_SIDE_ENCRYPTION: 'aws:kms' })).toEqual({ ServerSideEncryption: 'aws:kms' });
    const key = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(encryption({ S3_SERVER_SIDE_ENCRYPTION: 'aws:kms:dsse', S3_SSE_KMS_KEY_ID: key })).toEqual({
      ServerSideEncryption: 'aws:kms:dsse',
      SSEKMSKeyId: key,
    });
    for (const bad of ['aes256', 'kms', 'aws:kms ', 'true']) {
      expect(() => encryption({ S3_SERVER_SIDE_ENCRYPTION: bad })).toThrow(/S3_SERVER_SIDE_ENCRYPTION: /);
    }
    for (const without of [{}, { S3_SERVER_SIDE_ENCRYPTION: 'AES256' }] as Record<string, string>[]) {
      expect(() => encryption({ ...without, S3_SSE_KMS_KEY_ID: 'alias/spool' })).toThrow(
        'S3_SSE_KMS_KEY_ID: needs S3_SERVER_SIDE_ENCRYPTION=aws:kms or aws:kms:dsse',
      );
    }
    expect(() =>
      encryption({ S3_SERVER_SIDE_ENCRYPTION: 'aws:kms', S3_SSE_KMS_KEY_ID: 'alias/my key' }),
    ).toThrow(/S3_SSE_KMS_KEY_ID: expected a KMS key id/);
  });

  it('names the variables that look like its settings and are none (misspelled, ignored in silence), not the service links Kubernetes adds', () => {
    expect(
      unknownSettings({
        REDIS_NAMESPCE: 'prod',
        FLUSH_THRESHOLD: '1MiB',
        MAX_BUFFER_SIZE: '1GiB',
        S3_BUCKET_NAME: 'b',
        REDIS_URL: 'redis://redis:6379',
        S3_BUCKET: 'b',
        FLUSH_THRESHOLD_BYTES: '1MiB',
        // A Service named redis: Kubernetes's links; KEDA's password for its scaler.
        REDIS_SERVICE_HOST: '10.0.0.1',
        REDIS_SERVICE_PORT: '6379',
        REDIS_SERVICE_PORT_REDIS: '6379',
        REDIS_PORT: 'tcp://10.0.0.1:6379',
        REDIS_PORT_6379_TCP_ADDR: '10.0.0.1',
        REDIS_PASSWORD: 'x',
        PATH: '/bin',
        AWS_REGION: 'eu-west-1',
        // Settings of no prefix of their own: their near misses, not other software's LOG_ or DEFAULT_.
        DEFAULT_STREM: 'web',
        ALLOW_ANONYMUS_WRITES: 'true',
        LOG_LEVLE: 'debug',
        DEFAULT_STREAM: 'web',
        default_stream: 'web',
        SPOOL_DEFAULT_STREAM: 'web',
        DEFAULT_STREAM_NAME: 'web',
        LOG_FORMAT: 'json',
        DEFAULT_REGION: 'eu-west-1',
        LOGLEVEL: 'info',
        JOB_LEVEL: '3',
        NGINX_LOG_LEVEL: 'warn',
      }),
    ).toEqual([
      'ALLOW_ANONYMUS_WRITES',
      'DEFAULT_STREAM_NAME',
      'DEFAULT_STREM',
      'FLUSH_THRESHOLD',
      'LOG_LEVLE',
      'MAX_BUFFER_SIZE',
      'REDIS_NAMESPCE',
      'S3_BUCKET_NAME',
      'SPOOL_DEFAULT_STREAM',
      'default_stream',
    ]);
  });

  it('names a variable a letter or two from a setting, its prefix misspelled too (RATE_LIMT_MAX, DEDUP_WINDOW, S3BUCKET, AWS_REGON), and says which setting it is near', () => {
    expect(
      unknownSettings({
        RATE_LIMT_MAX: '2',
        GROUP_COMIT_WINDOW: '5ms',
        STREAMS_SHARDS: '4',
        DEDUP_WINDOW: '1h',
        S3BUCKET: 'b',
        AWS_REGON: 'eu-west-1',
        // Other software's, a few letters from a setting: not said.
        AWS_DEFAULT_REGION: 'eu-west-1',
        GROUP_ID: 'consumers', // Kafka's
        RATE_LIMIT: '100',
        AWS_ACCESS_KEY_ID: 'x',
        HOSTNAME: 'pod-1',
        HOME: '/root',
        NODE_OPTIONS: '--max-old-space-size=512',
        TEST_REDIS_URL: 'redis://127.0.0.1',
        redis_url: 'redis://127.0.0.1',
      }),
    ).toEqual([
      'AWS_REGON',
      'DEDUP_WINDOW',
      'GROUP_COMIT_WINDOW',
      'RATE_LIMT_MAX',
      'S3BUCKET',
      'STREAMS_SHARDS',
      'redis_url',
    ]);
    expect(
      [
        'RATE_LIMT_MAX',
        'GROUP_COMIT_WINDOW',
        'STREAMS_SHARDS',
        'DEDUP_WINDOW',
        'S3BUCKET',
        'AWS_REGON',
        'redis_url',
      ].map(nearestSetting),
    ).toEqual([
      'RATE_LIMIT_MAX',
      'GROUP_COMMIT_WINDOW',
      'STREAM_SHARDS',
      'DEDUPE_WINDOW',
      'S3_BUCKET',
      'AWS_REGION',
      'REDIS_URL',
    ]);
    expect(nearestSetting('HOSTNAME')).toBeUndefined();
  });

  it('refuses S3 credentials that hold a space, a newline or another control character, never showing them', () => {
    const flusher = (env: Record<string, string>) => loadConfig({ ...BUCKET, ...env }, 'flusher');
    expect(() =>
      flusher({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY12', AWS_SECRET_ACCESS_KEY: 'wJalr/XUtnFEMI+K7MDENG=' }),
    ).not.toThrow();
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      for (const bad of [
        'AKIAEXAMPLEKEY12\n',
        ' AKIAEXAMPLEKEY12',
        'AKIA EXAMPLE',
        'AKIA\u0000KEY',
        'AKIAÉKEY',
      ]) {
        let message = '';
        try {
          flusher({ [name]: bad });
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message).toContain(`${name}: expected printable ASCII without spaces`);
        expect(message).not.toContain('EXAMPLE');
        expect(message).not.toContain('KEY12');
      }
    }
    // The ingest reads no S3 setting.
    expect(loadConfig({ ...OPEN, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY12\n' }, 'ingest').port).toBe(8080);
  });

  it('keeps 10% of maxmemory free by default; takes a share, a size, or 0 for none; refuses anything else', () => {
    const reserve = (value?: string) =>
      loadConfig({ ...OPEN, ...(value === undefined ? {} : { REDIS_MEMORY_RESERVE: value }) }, 'ingest')
        .memoryReserve;
    expect(reserve()).toEqual({ percent: 10 });
    expect(reserve('25%')).toEqual({ percent: 25 });
    expect(reserve('256MiB')).toEqual({ bytes: 256 * MiB });
    expect(reserve('0')).toBeUndefined();
    expect(reserve('1%')).toEqual({ percent: 1 });
    expect(reserve('50%')).toEqual({ percent: 50 });
    expect(reserve('1MiB')).toEqual({ bytes: MiB });
    for (const bad of ['0%', '51%', '100%', '1.5%', '-5%', 'some', '1048575']) {
      expect(() => reserve(bad)).toThrow(
        /REDIS_MEMORY_RESERVE: expected a share of maxmemory from 1% to 50%/,
      );
    }
    // A share without its %: as bytes it was no reserve at all, in silence.
    expect(() => reserve('25')).toThrow(/got "25" \(a bare number is bytes: did you mean 25%\?\)/);
  });

  it('holds each bound the README states, on both sides of it', () => {
    const ingest = (env: Record<string, string>) => () => loadConfig(env, 'ingest');
    const flusher = (env: Record<string, string>) => () => loadConfig({ ...BUCKET, ...env }, 'flusher');
    // Write keys of at least 8 characters, admin keys of at least 16.
    expect(ingest({ WRITE_KEYS: 'eight-ch:web' })().writeKeys).toHaveLength(1);
    expect(ingest({ WRITE_KEYS: 'seven-c:web' })).toThrow(/WRITE_KEYS: entry 1 is not/);
    expect(flusher({ ADMIN_KEYS: 'sixteen-chars-ok' })().adminKeys).toEqual(['sixteen-chars-ok']);
    expect(flusher({ ADMIN_KEYS: 'fifteen-chars-k' })).toThrow(
      /ADMIN_KEYS: key 1 is shorter than 16 characters/,
    );
    // A dedupe window of 0 (off) or at least 1s.
    expect(ingest({ ...OPEN, DEDUPE_WINDOW: '1s' })().dedupeWindowMs).toBe(1000);
    expect(ingest({ ...OPEN, DEDUPE_WINDOW: '999ms' })).toThrow(
      /DEDUPE_WINDOW: must be 0 \(off\) or at least 1s/,
    );
    // Durations up to a timer's longest, 2^31 − 1 ms.
    expect(flusher({ FLUSH_INTERVAL: '2147483647ms' })().flushIntervalMs).toBe(2_147_483_647);
    expect(flusher({ FLUSH_INTERVAL: '2147483648ms' })).toThrow(
      /FLUSH_INTERVAL: expected at most 2147483647ms/,
    );
    expect(flusher({ S3_TIMEOUT: '24h' })().s3.timeoutMs).toBe(86_400_000);
  });

  it('turns dedupe off with DEDUPE_WINDOW=0', () => {
    expect(loadConfig({ ...OPEN, DEDUPE_WINDOW: '0' }, 'ingest').dedupeWindowMs).toBe(0);
    expect(loadConfig({ ...OPEN, DEDUPE_WINDOW: '24h' }, 'ingest').dedupeWindowMs).toBe(86_400_000);
  });

  it.each([
    [{ FLUSH_THRESHOLD_BYTES: 'lots' }, /FLUSH_THRESHOLD_BYTES: expected a size/],
    [{ FLUSH_INTERVAL: 'soon' }, /FLUSH_INTERVAL: expected a duration/],
    [{ MAX_BUFFER_BYTES: '1GiB' }, /MAX_BUFFER_BYTES: Redis strings stop at 512MiB/],
    // Settings that would wedge a stream: the append crossing the threshold must always fit.
    [
      { FLUSH_THRESHOLD_BYTES: '2MiB', MAX_BUFFER_BYTES: '1MiB' },
      /MAX_BUFFER_BYTES: MAX_BUFFER_BYTES \(1048576 bytes\) must be at least FLUSH_THRESHOLD_BYTES \+ 2 × MAX_BODY_BYTES/,
    ],
    [{ FLUSH_THRESHOLD_BYTES: '32MiB', MAX_BUFFER_BYTES: '32MiB' }, /MAX_BUFFER_BYTES: .* must be at least/],
    [
      { MAX_BODY_BYTES: '8MiB', MAX_BUFFER_BYTES: '4MiB', FLUSH_THRESHOLD_BYTES: '1MiB' },
      /MAX_BUFFER_BYTES: .* must be at least/,
    ],
    [{ FLUSH_THRESHOLD_BYTES: '512MiB' }, /FLUSH_THRESHOLD_BYTES: MAX_BUFFER_BYTES .* must be at least/],
    [{ MAX_EVENTS_PER_REQUEST: '0' }, /MAX_EVENTS_PER_REQUEST: expected a whole number from 1/],
    [{ DEDUPE_WINDOW: '10ms' }, /DEDUPE_WINDOW: must be 0 \(off\) or at least 1s/],
    [{ MAX_EVENT_BYTES: '2MiB' }, /MAX_EVENT_BYTES: must not exceed MAX_BODY_BYTES/],
    [{ FLUSH_CONCURRENCY: '0' }, /FLUSH_CONCURRENCY: expected a whole number from 1 to 64/],
    [{ FLUSH_CONCURRENCY: '65' }, /FLUSH_CONCURRENCY: expected a whole number from 1 to 64/],
    [{ QUARANTINE_MAX_EVENTS: '10001' }, /QUARANTINE_MAX_EVENTS: expected a whole number from 0 to 10000/],
    [{ FLUSH_INTERVAL: '999ms' }, /FLUSH_INTERVAL: must be at least 1s/],
    [{ FLUSH_LOCK_DURATION: '999ms' }, /FLUSH_LOCK_DURATION: must be at least 1s/],
    [
      { FLUSH_RETRY_BASE: '10m', FLUSH_RETRY_MAX: '1m' },
      /FLUSH_RETRY_BASE: must be at least 10ms and not above FLUSH_RETRY_MAX/,
    ],
    [{ PORT: '99999' }, /PORT: expected 0 to 65535/],
    [
      { HOST: '0.0.0.0:8080' },
      /HOST: expected an IP address or a host name \(the port goes in PORT\); got "0.0.0.0:8080"/,
    ],
    [{ HOST: 'not a host' }, /HOST: expected an IP address or a host name/],
    // Number() would read these as a random port and as 80.
    [{ PORT: ' ' }, /PORT: expected 0 to 65535/],
    [{ PORT: '0x50' }, /PORT: expected 0 to 65535/],
    // 0 would turn the timeout off; past a timer's longest, Node fires it at once.
    [{ S3_TIMEOUT: '0' }, /S3_TIMEOUT: must be from 1s to 24h/],
    [{ S3_TIMEOUT: '86400001' }, /S3_TIMEOUT: must be from 1s to 24h; got 86400001ms/],
    [
      { REDIS_COMMAND_TIMEOUT: '600h' },
      /REDIS_COMMAND_TIMEOUT: expected at most 2147483647ms, about 24.8 days/,
    ],
    [{ FLUSH_INTERVAL: '1000h' }, /FLUSH_INTERVAL: expected at most 2147483647ms, about 24.8 days/],
    [{ S3_PREFIX: 'events' }, /S3_PREFIX: empty, or expected a prefix ending in "\/"/],
    [{ S3_PREFIX: '../' }, /S3_PREFIX: empty, or a segment of "..\/" is ".."/],
    [{ S3_PREFIX: 'a/./' }, /S3_PREFIX: empty, or a segment of "a\/.\/" is "."/],
    // Past what stores take: every flush failed, and stayed on it once corrected (a review's run).
    [
      { S3_PREFIX: `${'a'.repeat(256)}/` },
      /S3_PREFIX: empty, or a segment of "a{40}…" is 256 bytes, more than the 255/,
    ],
    [
      { S3_PREFIX: `${'é/'.repeat(300)}` },
      /S3_PREFIX: empty, or "(é\/){20}…" is 900 bytes: .*\(at most 768\)/,
    ],
    [{ STREAM_SHARDS: 'web:2,web:3' }, /STREAM_SHARDS: "web" is listed twice/],
    [{ STREAM_SHARDS: 'web:65' }, /STREAM_SHARDS: .*a number of shards \(1 to 64\)/],
    [{ STREAM_SHARDS: '100' }, /STREAM_SHARDS: .*a number of shards \(1 to 64\)/],
    [{ OUTPUT_FORMAT: '*:parquet,*:ndjson.gz' }, /OUTPUT_FORMAT: "\*" is listed twice/],
    [{ GROUP_COMMIT_WINDOW: '2s' }, /GROUP_COMMIT_WINDOW: at most 100ms/],
    [{ MAX_INFLIGHT_BYTES: '512KiB' }, /MAX_INFLIGHT_BYTES: must be at least MAX_BODY_BYTES/],
    // The default buffer limit follows the threshold: a body this large is what passes it.
    [{ MAX_BODY_BYTES: '1.5GiB' }, /MAX_BODY_BYTES: MAX_BUFFER_BYTES .* must be at least/],
    [{ S3_PART_SIZE: '4MiB' }, /S3_PART_SIZE: S3 takes parts of 5MiB to 5GiB/],
    [{ S3_PART_SIZE: '6GiB' }, /S3_PART_SIZE: S3 takes parts of 5MiB to 5GiB/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ METRICS_PORT: 'abc' }, /METRICS_PORT: expected 1 to 65535, not PORT's/],
    [{ METRICS_HOSTS: ',' }, /METRICS_HOSTS: holds no name/],
    [
      { METRICS_HOSTS: 'ingest,http://ingest' },
      /METRICS_HOSTS: entry 2 \("http:\/\/ingest"\) is not a host name/,
    ],
    [{ METRICS_HOSTS: 'ingest:8080' }, /METRICS_HOSTS: entry 1 .* is not a host name/],
    [{ METRICS_HOSTS: '*.' }, /METRICS_HOSTS: entry 1 .* is not a host name/],
    [{ METRICS_HOSTS: 'a*.example' }, /METRICS_HOSTS: entry 1 .* is not a host name/],
    [{ METRICS_HOSTS: '-bad.example' }, /METRICS_HOSTS: entry 1 .* is not a host name/],
    [{ PORT: '8081', METRICS_PORT: '8081' }, /METRICS_PORT: expected 1 to 65535, not PORT's/],
    [
      { MAX_EVENT_BYTES: '32' },
      /MAX_EVENT_BYTES: must be at least 1KiB \(a size without a unit is bytes\); got 32/,
    ],
    [
      { FLUSH_THRESHOLD_BYTES: '32' },
      /FLUSH_THRESHOLD_BYTES: must be at least 1KiB \(a size without a unit is bytes\); got 32/,
    ],
    [
      { MAX_BATCH_BYTES: '500' },
      /MAX_BATCH_BYTES: must be at least MAX_EVENT_BYTES \(32768 bytes; a size without a unit is bytes\); got 500/,
    ],
    [{ WRITE_KEYS: 'short:web' }, /WRITE_KEYS: entry 1 is not/],
    [{ WRITE_KEYS: 'long-enough-key:Bad Stream' }, /WRITE_KEYS: entry 1 is not/],
    // Set, but holding no key: never read as "open".
    [{ WRITE_KEYS: ' ; ' }, /WRITE_KEYS: holds no key/],
    // Entries joined by a comma: one key "key-web-0123456789:web,key-all-0123456789" on every stream.
    [{ WRITE_KEYS: 'key-web-0123456789:web,key-all-0123456789:*' }, /WRITE_KEYS: entry 1's key holds ","/],
    // The second entry's streams would be refused without a word: the key matches its first.
    [
      { WRITE_KEYS: 'same-key-123:a;other-key-45:*;same-key-123:b' },
      /WRITE_KEYS: entry 3 repeats the key of entry 1/,
    ],
    // Sent as UTF-8 by curl and Basic, as Latin-1 by fetch and btoa: a 401 from half the clients.
    [
      { WRITE_KEYS: 'other-key-45:*;clé-secrète-très:web' },
      /WRITE_KEYS: entry 2's key holds a character other than printable ASCII/,
    ],
    [
      { WRITE_KEYS: 'two words key:web' },
      /WRITE_KEYS: entry 1's key holds a character other than printable ASCII/,
    ],
  ])('stops on %p naming the variable', (env, message) => {
    // Checked by the process that reads it: the flusher for its own settings.
    const flusherOnly = Object.keys(env).some((name) => OTHER_PROCESS_KEYS.ingest.includes(name));
    const load = () =>
      flusherOnly ? loadConfig({ ...BUCKET, ...env }, 'flusher') : loadConfig({ ...OPEN, ...env }, 'ingest');
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it.each([
    // Set, but holding no key: never read as "open".
    [{ ADMIN_KEYS: ',' }, /ADMIN_KEYS: holds no key/],
    [{ ADMIN_KEYS: 'ops:0123456789abcdefXYZ' }, /ADMIN_KEYS: key 1 holds ':'/],
    [{ ADMIN_KEYS: '  , ' }, /ADMIN_KEYS: holds no key/],
    [{ ADMIN_KEYS: '0123456789abcdef,fedcba9876543210,0123456789abcdef' }, /ADMIN_KEYS: key 3 repeats key 1/],
    [
      { ADMIN_KEYS: '0123456789abcdef,clé-admin-0123456789' },
      /ADMIN_KEYS: key 2 holds a character other than printable ASCII/,
    ],
    [
      { ADMIN_KEYS: 'admin\tkey-0123456789' },
      /ADMIN_KEYS: key 1 holds a character other than printable ASCII/,
    ],
  ])('stops the flusher on %p naming the variable', (env, message) => {
    expect(() => loadConfig({ ...BUCKET, ...env }, 'flusher')).toThrow(message);
  });

  it('takes a write key holding ":" (split at the entry\'s last one), as versions before did, and names it as one Basic cannot carry', () => {
    const { writeKeys } = loadConfig(
      { WRITE_KEYS: 'plain-key-0123:*;acme:live-0123456789:web,ios' },
      'ingest',
    );
    expect(writeKeys[1]).toEqual({ key: 'acme:live-0123456789', streams: new Set(['web', 'ios']) });
    expect(entriesBasicCannotCarry(writeKeys)).toEqual([2]);
  });

  it('names the keys the browser SDKs cannot put in a URL as they do, unencoded: ? # % & \\', () => {
    const keys = [
      'plain-key_0.1~',
      'b64+key/0=',
      'k'.repeat(200),
      'a?b-01234',
      'a#b-01234',
      'a%b-01234',
      'a&b-01234',
      'a\\b-01234',
    ];
    const { writeKeys } = loadConfig({ WRITE_KEYS: keys.map((key) => `${key}:*`).join(';') }, 'ingest');
    expect(entriesUrlsCannotCarry(writeKeys)).toEqual([4, 5, 6, 7, 8]);
  });

  it("reads neither process's secrets the other owns: a bad one in a shared environment stops only the process that uses it", () => {
    const shared = { ...BUCKET, WRITE_KEYS: 'short:Bad Stream', ADMIN_KEYS: 'too-short' };
    expect(() => loadConfig(shared, 'ingest')).toThrow(/WRITE_KEYS: entry 1 is not/);
    expect(() => loadConfig(shared, 'flusher')).toThrow(/ADMIN_KEYS/);
    expect(loadConfig({ ...shared, WRITE_KEYS: 'key-one-123:*' }, 'ingest').adminKeys).toEqual([]);
    expect(loadConfig({ ...shared, ADMIN_KEYS: undefined }, 'flusher').writeKeys).toEqual([]);
    // The ingest's metrics port, the flusher's PORT: the flusher is not stopped by it.
    expect(loadConfig({ ...BUCKET, METRICS_PORT: '9091' }, 'flusher').metricsPort).toBeUndefined();
  });

  it('fails closed: an ingest without write keys starts only when told it may be open', () => {
    expect(() => loadConfig({}, 'ingest')).toThrow(/WRITE_KEYS: required/);
    expect(() => loadConfig({}, 'ingest')).toThrow(/ALLOW_ANONYMOUS_WRITES=true/);
    expect(loadConfig({ WRITE_KEYS: 'key-one-123:*' }, 'ingest').allowAnonymousWrites).toBe(false);
    expect(() =>
      loadConfig({ WRITE_KEYS: 'key-one-123:*', ALLOW_ANONYMOUS_WRITES: 'true' }, 'ingest'),
    ).toThrow(/ALLOW_ANONYMOUS_WRITES: WRITE_KEYS is set too/);
    // The flusher takes no writes.
    expect(loadConfig(BUCKET, 'flusher').writeKeys).toEqual([]);
  });

  it('requires a bucket for the flusher only', () => {
    expect(() => loadConfig({}, 'flusher')).toThrow(/S3_BUCKET: required: the bucket the objects are in/);
  });

  it('never repeats a write key in its messages', () => {
    expect(() => loadConfig({ ...OPEN, WRITE_KEYS: 'supersecretvalue:Bad' }, 'ingest')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('supersecretvalue') }),
    );
  });
});

describe('settings one process reads and the other does not', () => {
  // README's settings table: `| `NAME` [/ `NAME`] | default | read by | meaning |`.
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const readBy = [
    ...readme.matchAll(/^\| ((?:`[A-Z0-9_]+`(?: \/ )?)+) \| [^|]* \| (ingest|flusher|both) \|/gm),
  ].flatMap(([, names, by]) =>
    [...(names as string).matchAll(/`([A-Z0-9_]+)`/g)].map(([, name]) => ({ name: name as string, by })),
  );
  const onlyBy = (process: string) => readBy.filter(({ by }) => by === process).map(({ name }) => name);
  // AWS_REGION is named in S3_REGION's row.
  it("are the README's", () => {
    expect(readBy.length).toBeGreaterThan(40);
    expect([...OTHER_PROCESS_KEYS.flusher].sort()).toEqual(onlyBy('ingest').sort());
    expect([...OTHER_PROCESS_KEYS.ingest].sort()).toEqual([...onlyBy('flusher'), 'AWS_REGION'].sort());
  });

  // A value every setting refuses: a typo in a shared ConfigMap.
  const typo = 'not a value\u0001';
  it.each(OTHER_PROCESS_KEYS.flusher.map((name) => [name]))(
    '%s refused by the ingest does not stop the flusher',
    (name) => {
      expect(() => loadConfig({ ...OPEN, [name]: typo }, 'ingest')).toThrow(name);
      expect(loadConfig({ ...BUCKET, [name]: typo }, 'flusher').port).toBe(9091);
    },
  );
  it.each(OTHER_PROCESS_KEYS.ingest.filter((name) => name !== 'S3_BUCKET').map((name) => [name]))(
    '%s refused by the flusher does not stop the ingest',
    (name) => {
      expect(() => loadConfig({ ...BUCKET, [name]: typo }, 'flusher')).toThrow(name);
      expect(loadConfig({ ...OPEN, [name]: typo }, 'ingest').port).toBe(8080);
    },
  );

  it('a small MAX_BODY_BYTES with a MAX_EVENT_BYTES under it starts both', () => {
    const env = { MAX_BODY_BYTES: '16KiB', MAX_EVENT_BYTES: '8KiB', FLUSH_THRESHOLD_BYTES: '1MiB' };
    expect(loadConfig({ ...OPEN, ...env }, 'ingest').maxEventBytes).toBe(8 * 1024);
    expect(loadConfig({ ...BUCKET, ...env }, 'flusher').maxBodyBytes).toBe(16 * 1024);
  });
});
