--[[
  Releases a generation once S3 has confirmed its object: deletes the sealed buffer and its
  metadata, adds its events to the stream's landed counter (with the generation and its length,
  for spool tail), and records the object as the
  stream's last (for the status page) and its manifest line as pending (manifests.ts writes it
  to its day's manifest: atomic with the release, so each object gets exactly one line). Idempotent: a generation already released (an upload that
  ran twice) changes nothing, so events are counted once.

  Input:
    KEYS[1] sealed       the sealed buffer            spool:{<stream>}:sealed:<gen>
    KEYS[2] sealedMeta   its metadata hash            spool:{<stream>}:sealed:<gen>:meta
    KEYS[3] stats        accepted/landed counters     spool:{<stream>}:stats
    KEYS[4] pending      sealed generations not yet released  spool:{<stream>}:pending
    KEYS[5] sealedBytes  bytes in sealed generations  spool:{<stream>}:sealed-bytes
    KEYS[6] manifestPending  manifest lines to write  spool:{<stream>}:manifest-pending

    ARGV[1] eventCount   events in the sealed buffer (lines)
    ARGV[2] gen          the generation
    ARGV[3] objectKey    the S3 key it landed at (empty: no object, the generation had no events)
    ARGV[4] manifestLine its line in its day's manifest (JSON), kept until a flusher writes it

  Output:
    1   released now
    0   already released
]]
--- @include "now-ms"

redis.call('SREM', KEYS[4], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local bytes = redis.call('STRLEN', KEYS[1])
-- Below 0 only when the counter was lost after the seal (evicted, or deleted by hand): left at
-- none rather than passed on to the appends; the sweep's reconcile-sealed-3.lua counts it again.
if redis.call('DECRBY', KEYS[5], bytes) < 0 then
  redis.call('DEL', KEYS[5])
end
redis.call('UNLINK', KEYS[1], KEYS[2])
redis.call('HINCRBY', KEYS[3], 'landed', ARGV[1])
-- The last generation released and its length: `spool tail`, finding a sealed key gone, tells
-- from it whether it had read the whole generation or skipped its end.
redis.call('HSET', KEYS[3], 'releasedGen', ARGV[2], 'releasedBytes', bytes)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], 'lastObject', ARGV[3], 'lastLandedAt', nowMs())
  redis.call('HSET', KEYS[6], ARGV[3], ARGV[4])
end
return 1
