--[[
  The memory reserve (REDIS_MEMORY_RESERVE; append-6.lua says why Redis keeps one): whether
  writing `bytes` more would take this master within `reserve` of its maxmemory. `reserve` is
  "<bytes>", "<percent>%" or "" (none). Returns used_memory and maxmemory when it would, else
  nil. A Redis without maxmemory keeps no reserve, nor does one whose user may not run INFO (an
  ACL without @dangerous): the check is then left to Redis's own refusal at maxmemory.
]]
local function intoReserve(reserve, bytes)
  if reserve == nil or reserve == '' then
    return nil
  end
  local memory = redis.pcall('INFO', 'memory')
  if type(memory) ~= 'string' then
    return nil
  end
  local maxmemory = tonumber(string.match(memory, '\nmaxmemory:(%d+)'))
  if not maxmemory or maxmemory == 0 then
    return nil
  end
  local percent = string.match(reserve, '^(%d+)%%$')
  local room = percent and math.floor(maxmemory * tonumber(percent) / 100) or tonumber(reserve)
  local used = tonumber(string.match(memory, 'used_memory:(%d+)'))
  if used and used + bytes > maxmemory - room then
    return used, maxmemory
  end
  return nil
end
