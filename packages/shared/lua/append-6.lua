--[[
  Appends complete NDJSON lines to a stream's active buffer, leaving out events whose messageId
  the stream accepted within the dedupe window, and refusing (appending nothing) when the
  stream's data in Redis (the active buffer plus sealed generations not yet uploaded) would pass
  its maximum, or when Redis would come within the memory reserve of its maxmemory. Every
  command here is O(1) in the buffer's size: STRLEN, APPEND's return value and counters are the
  only measures; dedupe costs O(events in this call).

  Memory reserve: at maxmemory (noeviction) Redis refuses every script that would write first,
  the flushers' and BullMQ's included, so nothing could be sealed, uploaded and released to make
  room, and every stream would wait for an operator. Appends therefore stop short of it, checked
  here, per call, against this master's own INFO (the only measure a script has): a check made
  outside could be overrun by every ingest's appends between two checks, this one by no more
  than the calls running beside it. It costs Redis some 10 us a call, so the ingest asks for it
  only while a master is at least half full (apps/ingest/src/redis-room.ts).

  Dedupe: the messageIds accepted in each time bucket (a window / BUCKETS long) are one set,
  `<seen>:<bucketMs>:<n>` (n = floor(now / bucketMs), on Redis's clock). An id is looked up in
  the current bucket and the BUCKETS before it, so it is remembered for at least one whole
  window and at most 1 + 1/BUCKETS; each set expires as a whole when it falls out of the window,
  so expiry never touches single ids. The sets share the stream's hash tag: they live in this
  script's Cluster slot, though their names are built here from KEYS[6].

  A change of DEDUPE_WINDOW changes bucketMs, and so the sets' names. `<seen>:widths` (a hash:
  bucketMs -> when that width's newest set expires) names every width whose sets may still live,
  and their sets are looked up too, until they expire: ids accepted under the old window, or by
  an ingest still on it during a rolling deploy, are still found.

  Input:
    KEYS[1] buf          the active buffer                 spool:{<stream>}:buf
    KEYS[2] gen          generation of the active buffer   spool:{<stream>}:gen
    KEYS[3] since        first-append time of the buffer   spool:{<stream>}:since
    KEYS[4] stats        the stream's counters (design.md)  spool:{<stream>}:stats
    KEYS[5] sealedBytes  bytes in sealed generations       spool:{<stream>}:sealed-bytes
    KEYS[6] seen         prefix of the dedupe sets         spool:{<stream>}:seen

    ARGV[1] chunk        one or more lines, each ending in "\n"
    ARGV[2] eventCount   number of lines in the chunk
    ARGV[3] maxBytes     MAX_BUFFER_BYTES (active buffer + sealed generations)
    ARGV[4] windowMs     DEDUPE_WINDOW in ms; 0 turns dedupe off
    ARGV[5] idLines      the line index (from 0) of each id below, comma-separated; empty when
                         the ids are those of lines 0, 1, 2, ... in order
    ARGV[6] reserve      REDIS_MEMORY_RESERVE: room kept below maxmemory, in bytes ("67108864")
                         or in percent of maxmemory ("10%"); empty for none. Redis without a
                         maxmemory has no reserve
    ARGV[7...] ids       the messageIds the client chose (lines with a generated messageId need
                         no dedupe and have none here). Plain arguments: Redis makes them Lua
                         strings once, and unpack() hands them on without a copy (measured
                         cheaper than one JSON or separated argument split in Lua)

  Output:
    { length, gen, started, appended, index... }
        appended (or nothing to append: every event was a duplicate). length is the buffer's
        length after it, started is 1 when this append created the buffer, appended is the bytes
        it added, and the line indexes of the duplicates left out follow, in ascending order
    { -1, held }
        refused: held (active + sealed bytes) + the bytes to append would pass maxBytes
    { -2, used, maxmemory }
        refused: Redis's used_memory + the bytes to append would come within the reserve
]]
--- @include "now-ms"
--- @include "memory-reserve"

local SLICE = 1000 -- arguments per command: unpack() has a limit
local BUCKETS = 2 -- sets per window: ids are kept from 1 to 1 + 1/BUCKETS windows

local chunk = ARGV[1]
local now = nowMs()
local events = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[4])
local FIRST_ID = 7
local lastId = #ARGV

-- Line indexes (from 0) of the duplicates left out, ascending.
local duplicates = {}
-- The ids to remember; nil means all of them.
local fresh
local bucketMs = math.ceil(windowMs / BUCKETS)
local bucket = windowMs > 0 and math.floor(now / bucketMs) or 0
local bucketKey = KEYS[6] .. ':' .. bucketMs .. ':' .. bucket
local widthsKey = KEYS[6] .. ':widths'
-- When this width's newest set expires: gone once no later bucket looks back to it.
local expiresAt = (bucket + BUCKETS + 1) * bucketMs
-- Width (ms) -> when its newest set expires, for every width whose sets may still live.
local widths = {}
-- Widths whose sets have all expired: struck from the registry at its next write.
local gone = {}
if windowMs > 0 and lastId >= FIRST_ID then
  local registered = redis.call('HGETALL', widthsKey)
  for i = 1, #registered, 2 do
    local expiry = tonumber(registered[i + 1])
    if expiry > now then
      widths[tonumber(registered[i])] = expiry
    else
      gone[#gone + 1] = registered[i]
    end
  end
  widths[bucketMs] = widths[bucketMs] or 0
  local seen = {}
  for width in pairs(widths) do
    local newest = math.floor(now / width)
    for back = BUCKETS, 0, -1 do
      local key = KEYS[6] .. ':' .. width .. ':' .. (newest - back)
      if redis.call('EXISTS', key) == 1 then
        for from = FIRST_ID, lastId, SLICE do
          local found = redis.call('SMISMEMBER', key, unpack(ARGV, from, math.min(from + SLICE - 1, lastId)))
          for j = 1, #found do
            if found[j] == 1 then seen[ARGV[from + j - 1]] = true end
          end
        end
      end
    end
  end
  local positions = {}
  for i = FIRST_ID, lastId do
    local id = ARGV[i]
    if seen[id] then
      positions[#positions + 1] = i - FIRST_ID
    else
      -- A later event with the same id in this very call is a duplicate of this one.
      seen[id] = true
    end
  end
  if #positions > 0 then
    local lines = {}
    for line in string.gmatch(ARGV[5], '%d+') do lines[#lines + 1] = tonumber(line) end
    local skip = {}
    for _, position in ipairs(positions) do
      skip[position + FIRST_ID] = true
      duplicates[#duplicates + 1] = ARGV[5] == '' and position or lines[position + 1]
    end
    fresh = {}
    for i = FIRST_ID, lastId do
      if not skip[i] then fresh[#fresh + 1] = ARGV[i] end
    end
  end
end

if #duplicates > 0 then
  local skip = {}
  for _, index in ipairs(duplicates) do skip[index] = true end
  local kept = {}
  local start = 1
  local index = 0
  while start <= #chunk do
    local stop = string.find(chunk, '\n', start, true)
    if not skip[index] then kept[#kept + 1] = string.sub(chunk, start, stop) end
    start = stop + 1
    index = index + 1
  end
  chunk = table.concat(kept)
  events = events - #duplicates
end

-- Checked once the duplicates are left out (dedupe only read so far): a retry of events already
-- stored appends nothing, and is answered as duplicates however full Redis is.
if #chunk > 0 then
  local used, maxmemory = intoReserve(ARGV[6], #chunk)
  if used then
    return { -2, used, maxmemory }
  end
end

local length = redis.call('STRLEN', KEYS[1])
-- Below 0 only when the counter was lost (evicted, or deleted by hand) before a release took its
-- generation's bytes off: the sweep's reconcile-sealed-3.lua counts the sealed keys again.
local held = length + math.max(0, tonumber(redis.call('GET', KEYS[5]) or '0'))
-- An append of duplicates only adds nothing, so it is answered as such however much the stream
-- holds (MAX_BUFFER_BYTES lowered, or STREAM_SHARDS raised, under a stream's data).
if #chunk > 0 and held + #chunk > tonumber(ARGV[3]) then
  return { -1, held }
end

local gen = tonumber(redis.call('GET', KEYS[2]) or '0')
-- Checked before anything is written: a reply with a nil in it would reach the caller cut short.
if gen == nil then
  return redis.error_reply('SPOOL ' .. KEYS[2] .. ' holds no generation number')
end
local reply = { length, gen, 0, #chunk }
if #chunk > 0 then
  reply[1] = redis.call('APPEND', KEYS[1], chunk)
  if reply[1] == #chunk then
    redis.call('SET', KEYS[3], now)
    reply[3] = 1
  end
  redis.call('HINCRBY', KEYS[4], 'accepted', events)
  redis.call('HINCRBY', KEYS[4], 'acceptedBytes', #chunk)
end
if #duplicates > 0 then
  redis.call('HINCRBY', KEYS[4], 'duplicates', #duplicates)
  for _, index in ipairs(duplicates) do reply[#reply + 1] = index end
end
if windowMs > 0 and lastId >= FIRST_ID and #chunk > 0 then
  if fresh then
    for from = 1, #fresh, SLICE do
      redis.call('SADD', bucketKey, unpack(fresh, from, math.min(from + SLICE - 1, #fresh)))
    end
  else
    for from = FIRST_ID, lastId, SLICE do
      redis.call('SADD', bucketKey, unpack(ARGV, from, math.min(from + SLICE - 1, lastId)))
    end
  end
  redis.call('PEXPIREAT', bucketKey, expiresAt)
  -- Once a bucket (and once a width has expired): the registry names this width until its newest
  -- set is gone, and lives as long as the longest-lived width it names.
  if widths[bucketMs] ~= expiresAt or #gone > 0 then
    widths[bucketMs] = expiresAt
    local last = expiresAt
    for _, expiry in pairs(widths) do
      if expiry > last then last = expiry end
    end
    if #gone > 0 then redis.call('HDEL', widthsKey, unpack(gone)) end
    redis.call('HSET', widthsKey, bucketMs, expiresAt)
    redis.call('PEXPIREAT', widthsKey, last)
  end
end
return reply
