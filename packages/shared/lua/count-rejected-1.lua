--[[
  Adds a request's rejected events (refused at ingest, never stored) to its stream's counters, for
  the status page. Only a stream that already has counters (it has stored an event) is counted:
  a flood of bad events to made-up stream names creates no key.

  Input:
    KEYS[1] stats        the stream's counters         spool:{<stream>}:stats
    ARGV[1] rejected     events rejected in the request

  Output: the stream's rejected count, or 0 when it has no counters.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HINCRBY', KEYS[1], 'rejected', ARGV[1])
end
return 0
