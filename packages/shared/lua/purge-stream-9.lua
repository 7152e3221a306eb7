--[[
  Deletes what a forgotten stream still keeps (its sealed-bytes counter, its counters hash and a
  quarantine age left behind),
  unless it holds something again: the sweep calls it once the registry forgot the stream
  (forget-stream-1.lua, on the registry's own slot), and an append may have come between the
  two. Without it each stream ever written kept about 960 bytes in Redis for good (a review:
  13,239 forgotten streams, 12.76 MB), and stream names come from clients.

  Its generation number stays (72 bytes): a number is never used twice, so a flush attempt that
  stalled across the forget (a paused process) and releases its generation late finds it
  released, never a new generation of the same number (a review's run lost two events that way
  when the number started again at 0). Its dedupe sets are left to expire: a client's retry
  within DEDUPE_WINDOW is still caught. Written again, the stream counts from 0.

  Input:
    KEYS[1] buf                 the active buffer                 spool:{<stream>}:buf
    KEYS[2] pending             sealed generations not released   spool:{<stream>}:pending
    KEYS[3] sealedBytes         bytes in sealed generations       spool:{<stream>}:sealed-bytes
    KEYS[4] manifestPending     manifest lines to write           spool:{<stream>}:manifest-pending
    KEYS[5] manifestDrainingId  a manifest drain in progress      spool:{<stream>}:manifest-draining-id
    KEYS[6] quarantine          refused events to write           spool:{<stream>}:quarantine
    KEYS[7] quarantineDrainingId a quarantine drain in progress   spool:{<stream>}:quarantine-draining-id
    KEYS[8] stats               the stream's counters             spool:{<stream>}:stats
    KEYS[9] quarantineSince     when the oldest refused event came spool:{<stream>}:quarantine-since

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
-- A quarantine's age outlives its entries when a flusher dies between writing them and deleting
-- it (quarantine.ts): with no entry left it is only a leftover.
redis.call('DEL', KEYS[3], KEYS[8], KEYS[9])
return 1
