--[[
  Reads what the sweep needs of a buffer unit (a stream, or a shard of one) in one call: ten
  reads that were ten round trips, most of a sweep tick's cost over many streams. Reads only. Not
  sent to a Redis Cluster (unit-state.ts in the flusher says why).

  Input:
    KEYS[1]  gen                   the active generation             spool:{<stream>}:gen
    KEYS[2]  since                 Redis ms of its first append       spool:{<stream>}:since
    KEYS[3]  buf                   the active buffer                  spool:{<stream>}:buf
    KEYS[4]  pending               sealed generations not released    spool:{<stream>}:pending
    KEYS[5]  sealedBytes           bytes in sealed generations        spool:{<stream>}:sealed-bytes
    KEYS[6]  manifestPending       manifest lines waiting for S3      spool:{<stream>}:manifest-pending
    KEYS[7]  manifestDrainingId    set while a manifest drain runs    spool:{<stream>}:manifest-draining-id
    KEYS[8]  quarantine            refused events waiting for S3      spool:{<stream>}:quarantine
    KEYS[9]  quarantineDrainingId  set while a quarantine drain runs  spool:{<stream>}:quarantine-draining-id
    KEYS[10] stats                 the unit's counters                spool:{<stream>}:stats

  Output, in the order of the keys:
    { gen or nil, since or nil, buffer bytes, { pending generations }, sealed bytes or nil,
      manifest lines, 0 or 1, quarantined events, 0 or 1, { field, value, ... } }
]]
return {
  redis.call('GET', KEYS[1]),
  redis.call('GET', KEYS[2]),
  redis.call('STRLEN', KEYS[3]),
  redis.call('SMEMBERS', KEYS[4]),
  redis.call('GET', KEYS[5]),
  redis.call('HLEN', KEYS[6]),
  redis.call('EXISTS', KEYS[7]),
  redis.call('LLEN', KEYS[8]),
  redis.call('EXISTS', KEYS[9]),
  redis.call('HGETALL', KEYS[10]),
}
