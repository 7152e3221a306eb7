--[[
  Takes a stream's active buffer out of service for upload, as generation `gen`. Idempotent: a
  retry of the same flush finds its sealed key and uses it; a flush whose generation was already
  uploaded (or never held anything) finds nothing to do. RENAME onto a fresh key is O(1).

  Input:
    KEYS[1] buf          the active buffer              spool:{<stream>}:buf
    KEYS[2] gen          generation of the active buffer spool:{<stream>}:gen
    KEYS[3] since        first-append time of the buffer spool:{<stream>}:since
    KEYS[4] sealed       the sealed buffer of `gen`      spool:{<stream>}:sealed:<gen>
    KEYS[5] sealedMeta   its metadata hash               spool:{<stream>}:sealed:<gen>:meta
    KEYS[6] pending      sealed generations not yet released  spool:{<stream>}:pending
    KEYS[7] sealedBytes  bytes in sealed generations     spool:{<stream>}:sealed-bytes

    ARGV[1] gen     the generation the flush job is for
    ARGV[2] format  the output format to write it in (OUTPUT_FORMAT), recorded with it, so that
                    every attempt writes the same object key whatever the configuration says then
    ARGV[3] waited  '1' when a WAIT follows (REDIS_MIN_REPLICAS_ACK): an earlier seal found is
                    written once more, so that the WAIT, which counts the replicas holding this
                    connection's last write, counts those that hold the seal

  Output:
    { 1, length, since, format }   sealed now
    { 2, length, since, format }   already sealed by an earlier attempt: upload it again, in the
                                   format recorded then (ndjson.gz for seals of earlier versions)
    { 0, 0, 0, '' }                nothing to seal: the generation is gone or empty
]]
--- @include "now-ms"

-- A buffer without `since`, or with one that is no number (lost, or written by hand), is dated now.

if redis.call('EXISTS', KEYS[4]) == 1 then
  local meta = redis.call('HMGET', KEYS[5], 'since', 'format')
  -- Its metadata gone (deleted by hand, or evicted by a Redis not on noeviction), or its time no
  -- number: made again once, so that every later attempt writes the same object key, and
  -- pin-destination-1.lua, which needs it, does not take the generation for one already released.
  if tonumber(meta[1]) == nil then
    meta = { nowMs(), meta[2] or ARGV[2] }
    redis.call('HSET', KEYS[5], 'since', meta[1], 'format', meta[2])
  elseif ARGV[3] == '1' then
    redis.call('HSET', KEYS[5], 'since', meta[1])
  end
  return { 2, redis.call('STRLEN', KEYS[4]), tonumber(meta[1]), meta[2] or 'ndjson.gz' }
end

local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current ~= tonumber(ARGV[1]) or redis.call('EXISTS', KEYS[1]) == 0 then
  return { 0, 0, 0, '' }
end

local since = tonumber(redis.call('GET', KEYS[3]) or '') or nowMs()
redis.call('RENAME', KEYS[1], KEYS[4])
redis.call('HSET', KEYS[5], 'since', since, 'format', ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('SADD', KEYS[6], ARGV[1])
local length = redis.call('STRLEN', KEYS[4])
redis.call('INCRBY', KEYS[7], length)
redis.call('INCR', KEYS[2])
return { 1, length, tonumber(since), ARGV[2] }
