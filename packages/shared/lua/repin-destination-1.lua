--[[
  Moves a sealed generation's object to the current bucket and prefix, from a pinned bucket that
  does not exist (pin-destination-1.lua pins the first attempt's; a bucket name mistyped at the
  first attempt would hold the generation for ever). Only while the pin is still the one the
  caller found missing: another flusher may have moved it meanwhile.

  Input:
    KEYS[1] sealedMeta   the generation's metadata hash   spool:{<stream>}:sealed:<gen>:meta

    ARGV[1] bucket       the pinned bucket, found missing
    ARGV[2] prefix       the pinned prefix
    ARGV[3] newBucket    this attempt's S3_BUCKET
    ARGV[4] newPrefix    this attempt's S3_PREFIX

  Output: { bucket, prefix } to write to, or false when the generation has no metadata (already
  released).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local pinned = redis.call('HMGET', KEYS[1], 'bucket', 'prefix')
if pinned[1] == ARGV[1] and pinned[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'bucket', ARGV[3], 'prefix', ARGV[4])
end
return redis.call('HMGET', KEYS[1], 'bucket', 'prefix')
