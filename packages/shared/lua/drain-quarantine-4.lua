--[[
  Takes a stream's quarantine out of service to be written to S3: the kept entries move to the
  draining list, and the draining id (`<n>:<ms>`, n counting the stream's drains, ms on Redis's
  clock) names their object, so a retry after a crash writes the same object. Does nothing while
  an earlier drain is unfinished (its id is returned, to finish it first) or when nothing is kept.

  Input:
    KEYS[1] quarantine   the kept rejected events      spool:{<stream>}:quarantine
    KEYS[2] draining     entries being written          spool:{<stream>}:quarantine-draining
    KEYS[3] drainingId   their object's id              spool:{<stream>}:quarantine-draining-id
    KEYS[4] stats        the stream's counters          spool:{<stream>}:stats

  Output: the draining id, or false when there is nothing to write.
]]
--- @include "now-ms"

local pending = redis.call('GET', KEYS[3])
if pending then
  return pending
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local id = redis.call('HINCRBY', KEYS[4], 'quarantineDrains', 1) .. ':' .. nowMs()
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], id)
return id
