--[[
  Deletes what a forgotten stream still keeps (its generation number, its sealed-bytes counter,
  its counters hash), unless it holds something again: the sweep calls it once the registry
  forgot the stream (forget-stream-1.lua, on the registry's own slot), and an append may have come
  between the two. Without it each stream ever written kept about 960 bytes in Redis for good
  (a review: 13,239 forgotten streams, 12.76 MB), and stream names come from clients.

  The stream then starts again as a new one: generation 0, counters from 0. Its objects cannot
  meet the old ones' keys (a key holds its buffer's first-append time, and the new one's is
  later), and the old generations' flush jobs are done and removed (only an unknown job fails).
  Its dedupe sets are left to expire: a client's retry within DEDUPE_WINDOW is still caught.

  Input:
    KEYS[1] buf                 the active buffer                 spool:{<stream>}:buf
    KEYS[2] pending             sealed generations not released   spool:{<stream>}:pending
    KEYS[3] sealedBytes         bytes in sealed generations       spool:{<stream>}:sealed-bytes
    KEYS[4] manifestPending     manifest lines to write           spool:{<stream>}:manifest-pending
    KEYS[5] manifestDrainingId  a manifest drain in progress      spool:{<stream>}:manifest-draining-id
    KEYS[6] quarantine          refused events to write           spool:{<stream>}:quarantine
    KEYS[7] quarantineDrainingId a quarantine drain in progress   spool:{<stream>}:quarantine-draining-id
    KEYS[8] gen                 generation of the active buffer   spool:{<stream>}:gen
    KEYS[9] stats               the stream's counters             spool:{<stream>}:stats

  Output:
    1   purged
    0   kept: the stream holds something again
]]
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7]) > 0 then
  return 0
end
if tonumber(redis.call('GET', KEYS[3]) or '0') ~= 0 then
  return 0
end
redis.call('DEL', KEYS[3], KEYS[8], KEYS[9])
return 1
