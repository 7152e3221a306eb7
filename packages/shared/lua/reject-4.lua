--[[
  Records a request's rejected events (refused at ingest, never stored) for its stream: adds them
  to the stream's `rejected` counter (the status page), and keeps them in the stream's quarantine
  (what the sweep writes to S3 under _quarantine/), which holds at most `maxKept` entries: the
  newest. Only a stream that has stored an event is recorded (it has counters, a generation
  number, or this very request stored some of its events, on another shard of a sharded
  stream), so a flood of bad events to made-up stream names creates no key. The generation
  number is what a stream keeps once the sweep forgot it, idle for an hour: without it, a
  client's broken release after a quiet hour left no trace (a review's run).

  Input:
    KEYS[1] stats        the stream's counters                    spool:{<stream>}:stats
    KEYS[2] quarantine   the kept rejected events                 spool:{<stream>}:quarantine
    KEYS[3] since        when the quarantine's oldest entry came  spool:{<stream>}:quarantine-since
    KEYS[4] gen          its generation number (set by a flush)   spool:{<stream>}:gen
    ARGV[1] rejected     events rejected in the request
    ARGV[2] maxKept      QUARANTINE_MAX_EVENTS (0: keep none)
    ARGV[3] stored       1 when the request stored events: the stream is real, counters or not
    ARGV[4] reserve      REDIS_MEMORY_RESERVE as the append script takes it ("" for none): within
                         it the entries are not kept (counted as quarantineDropped), so refused
                         events cannot fill what the flushers need to drain Redis
    ARGV[5...] entries   the kept events (JSON: reason, request id, raw text cut to a bound, time)

  Output: the stream's rejected count, or 0 when it was not recorded.
]]
--- @include "now-ms"
--- @include "memory-reserve"

if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[1], KEYS[4]) == 0 then
  return 0
end
local FIRST_ENTRY = 5
local maxKept = tonumber(ARGV[2])
-- The entries' bytes, summed only where a reserve is asked for (near maxmemory, rarely).
local function entriesBytes()
  local bytes = 0
  for i = FIRST_ENTRY, #ARGV do
    bytes = bytes + #ARGV[i]
  end
  return bytes
end
if maxKept > 0 and #ARGV >= FIRST_ENTRY and ARGV[4] ~= '' and intoReserve(ARGV[4], entriesBytes()) then
  redis.call('HINCRBY', KEYS[1], 'quarantineDropped', #ARGV - FIRST_ENTRY + 1)
elseif maxKept > 0 and #ARGV >= FIRST_ENTRY then
  -- Aged by the sweep on Redis's clock, the one clock every ingest and flusher shares.
  if redis.call('LLEN', KEYS[2]) == 0 then
    redis.call('SET', KEYS[3], nowMs())
  end
  for from = FIRST_ENTRY, #ARGV, 500 do
    redis.call('RPUSH', KEYS[2], unpack(ARGV, from, math.min(from + 499, #ARGV)))
  end
  local length = redis.call('LLEN', KEYS[2])
  if length > maxKept then
    redis.call('LTRIM', KEYS[2], length - maxKept, -1)
    redis.call('HINCRBY', KEYS[1], 'quarantineDropped', length - maxKept)
  end
end
return redis.call('HINCRBY', KEYS[1], 'rejected', ARGV[1])
