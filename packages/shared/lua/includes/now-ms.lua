-- Milliseconds on Redis's clock: one clock for every process, whatever their own clocks say.
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
