--[[
  Makes a stream's count of sealed bytes agree with its sealed keys. Seal and release keep it
  exact; this repairs what they cannot see, such as a sealed key deleted by hand, which would
  otherwise count against MAX_BUFFER_BYTES for ever (and hold the stream at 503). A generation
  whose sealed key is gone leaves the pending set. O(pending generations).

  Input:
    KEYS[1] pending      sealed generations not yet released  spool:{<stream>}:pending
    KEYS[2] sealedBytes  bytes in sealed generations          spool:{<stream>}:sealed-bytes
    KEYS[3] sealed       prefix of the sealed buffers         spool:{<stream>}:sealed
                         (`<prefix>:<gen>` and `<prefix>:<gen>:meta`, built here: same slot)

  Output:
    { sealedBytes, counted, forgotten }   the bytes the sealed keys hold, what the counter said
                                          before, and how many generations had lost their key
]]
local held = 0
local forgotten = 0
for _, gen in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = KEYS[3] .. ':' .. gen
  if redis.call('EXISTS', key) == 1 then
    held = held + redis.call('STRLEN', key)
  else
    redis.call('SREM', KEYS[1], gen)
    redis.call('DEL', key .. ':meta')
    forgotten = forgotten + 1
  end
end
local counted = tonumber(redis.call('GET', KEYS[2]) or '0')
if counted ~= held then
  if held == 0 then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], held) end
end
return { held, counted, forgotten }
