--[[
  Records that a stream is in use, on Redis's clock, so that the sweep visits it. The ingest
  calls it before a stream's first append, and again at least every
  STREAM_REGISTRATION_REFRESH_MS while it keeps appending, so a registration is never older
  than that while appends go on.

  Input:
    KEYS[1] registry   streams by last registration (ms)   {spool}:stream-registry

    ARGV[1] stream

  Output:
    the registration time (ms, Redis's clock)
]]
--- @include "now-ms"

local now = nowMs()
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
