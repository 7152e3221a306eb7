--[[
  Appends complete NDJSON lines to a stream's active buffer, refusing (and appending nothing)
  when the buffer would pass its maximum size. Every command here is O(1) in the buffer's size:
  STRLEN and APPEND's return value are the only measures of the buffer.

  Input:
    KEYS[1] buf     the active buffer                 spool:{<stream>}:buf
    KEYS[2] gen     generation of the active buffer   spool:{<stream>}:gen
    KEYS[3] since   first-append time of the buffer   spool:{<stream>}:since
    KEYS[4] stats   accepted/landed counters          spool:{<stream>}:stats

    ARGV[1] chunk        one or more lines, each ending in "\n"
    ARGV[2] eventCount   number of lines in the chunk
    ARGV[3] maxBytes     MAX_BUFFER_BYTES
    ARGV[4] nowMs        the caller's clock, recorded as `since` when this append starts the buffer

  Output:
    { length, gen, started }   appended; length is the buffer's length after it, started is 1
                               when this append created the buffer
    { -1, length }             refused: length + #chunk would pass maxBytes
]]
local length = redis.call('STRLEN', KEYS[1])
if length + #ARGV[1] > tonumber(ARGV[3]) then
  return { -1, length }
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
