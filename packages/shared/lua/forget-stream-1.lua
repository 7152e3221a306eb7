--[[
  Takes an idle stream out of the registry, unless it was registered again since `cutoffMs`.
  The sweep calls it only after it saw the stream idle (empty buffer, no sealed generation), with
  a cutoff taken before it looked: an ingest that appended since then registered the stream
  after the cutoff (or within STREAM_REGISTRATION_REFRESH_MS of it, far less than the idle
  horizon), so a stream that holds data is never forgotten.

  Input:
    KEYS[1] registry   streams by last registration (ms)   {spool}:stream-registry

    ARGV[1] stream
    ARGV[2] cutoffMs   forget only a registration older than this (Redis's clock)

  Output:
    1   forgotten
    0   kept: registered since the cutoff, or not registered
]]
local registered = redis.call('ZSCORE', KEYS[1], ARGV[1])
if registered and tonumber(registered) < tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
