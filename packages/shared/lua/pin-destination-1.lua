--[[
  Fixes where a sealed generation's object goes: the bucket and prefix of its first upload
  attempt. Every later attempt (a retry, another flusher taking over) writes the same object key,
  even after S3_BUCKET or S3_PREFIX changed: otherwise a crash between the upload and the release,
  then a retry under the new settings, would leave a second object, counted nowhere.

  Input:
    KEYS[1] sealedMeta   the generation's metadata hash   spool:{<stream>}:sealed:<gen>:meta

    ARGV[1] bucket       this attempt's S3_BUCKET
    ARGV[2] prefix       this attempt's S3_PREFIX

  Output: { bucket, prefix } to write to, or false when the generation has no metadata (already
  released): nothing is created for it.

  A generation already pinned is answered without a write: at maxmemory Redis refuses a script's
  first write, and a retried flush must still be able to upload and release what it sealed.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local pinned = redis.call('HMGET', KEYS[1], 'bucket', 'prefix')
if pinned[1] and pinned[2] then
  return pinned
end
redis.call('HSETNX', KEYS[1], 'bucket', ARGV[1])
redis.call('HSETNX', KEYS[1], 'prefix', ARGV[2])
return redis.call('HMGET', KEYS[1], 'bucket', 'prefix')
