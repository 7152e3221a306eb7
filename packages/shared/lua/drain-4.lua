--[[
  Takes a stream's pending side-file entries out of service to be written to S3 (the quarantine's
  list, or the manifest lines' hash): they move to the draining key, and the draining id
  (`<n>:<ms>`, n counting the stream's drains of this kind, ms on Redis's clock) names what they
  are written to, so a retry after a crash writes the same object. Does nothing while an earlier
  drain is unfinished (its id is returned, to finish it first) or when nothing is pending.

  Input:
    KEYS[1] pending      the entries waiting           spool:{<stream>}:quarantine | :manifest-pending
    KEYS[2] draining     entries being written          …-draining
    KEYS[3] drainingId   their object's id              …-draining-id
    KEYS[4] stats        the stream's counters          spool:{<stream>}:stats
    ARGV[1] counter      the stats field counting these drains

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
local id = redis.call('HINCRBY', KEYS[4], ARGV[1], 1) .. ':' .. nowMs()
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], id)
return id
