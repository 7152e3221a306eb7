--[[
  Appends complete NDJSON lines to a stream's active buffer, refusing (and appending nothing)
  when the stream's data in Redis — the active buffer plus sealed generations not yet uploaded —
  would pass its maximum. Every command here is O(1) in the buffer's size: STRLEN, APPEND's
  return value and a counter are the only measures.

  Input:
    KEYS[1] buf     the active buffer                 spool:{<stream>}:buf
    KEYS[2] gen     generation of the active buffer   spool:{<stream>}:gen
    KEYS[3] since   first-append time of the buffer   spool:{<stream>}:since
    KEYS[4] stats   accepted/landed counters          spool:{<stream>}:stats
    KEYS[5] sealedBytes  bytes in sealed generations  spool:{<stream>}:sealed-bytes

    ARGV[1] chunk        one or more lines, each ending in "\n"
    ARGV[2] eventCount   number of lines in the chunk
    ARGV[3] maxBytes     MAX_BUFFER_BYTES (active buffer + sealed generations)
    ARGV[4] nowMs        the caller's clock, recorded as `since` when this append starts the buffer

  Output:
    { length, gen, started }   appended; length is the buffer's length after it, started is 1
                               when this append created the buffer
    { -1, held }               refused: held (active + sealed bytes) + #chunk would pass maxBytes
]]
local length = redis.call('STRLEN', KEYS[1])
local held = length + tonumber(redis.call('GET', KEYS[5]) or '0')
if held + #ARGV[1] > tonumber(ARGV[3]) then
  return { -1, held }
end

local newLength = redis.call('APPEND', KEYS[1], ARGV[1])
local started = 0
if newLength == #ARGV[1] then
  redis.call('SET', KEYS[3], ARGV[4])
  started = 1
end
redis.call('HINCRBY', KEYS[4], 'accepted', ARGV[2])

local gen = tonumber(redis.call('GET', KEYS[2]) or '0')
return { newLength, gen, started }
