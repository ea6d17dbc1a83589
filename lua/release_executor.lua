--[[
  Release an executor back to its pool, idempotently.

  A task's success callback (link) and its failure callback (link_error) can both
  run, so cleanup may call this twice for one executor. Only a call that finds
  the executor busy AND not yet in the pool puts it back; every other call
  changes nothing in the pool and says why. Being one script, the check and the
  push cannot interleave with another release.

  Input:
    KEYS[1] busy marker of the executor    (string: owning eval id, with a TTL)
    KEYS[2] available executors            (list of JSON entries {"url": ...})
    KEYS[3] release times of the executor  (list of ms timestamps, newest first, 2 kept)

    ARGV[1] executor url
    ARGV[2] executor entry: the JSON pushed into the available list

  Output: {was_busy, added, status, now_ms, previous_release_ms}
    {1, 1, "released", ...}        it was busy; it is now available
    {w, 0, "already_in_pool", ...} an entry with this url is already available
    {0, 0, "not_busy", ...}        neither busy nor available: nothing to give back
    now_ms is Redis' own clock; previous_release_ms is -1 when there was none.
    Every call records its time, so the caller can tell a double release.
]]
local busyKey = KEYS[1]
local availableKey = KEYS[2]
local releaseTimesKey = KEYS[3]
local executorUrl = ARGV[1]
local executorEntry = ARGV[2]

local time = redis.call('time')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local previousMs = tonumber(redis.call('lindex', releaseTimesKey, 0) or -1)
redis.call('lpush', releaseTimesKey, nowMs)
redis.call('ltrim', releaseTimesKey, 0, 1)

-- 1. Delete the busy marker (was it there?)
local wasBusy = redis.call('del', busyKey)

-- 2. Already in the pool? Entries are JSON; a malformed one is skipped, not fatal.
local available = redis.call('lrange', availableKey, 0, -1)
for _, raw in ipairs(available) do
  local ok, item = pcall(cjson.decode, raw)
  if ok and type(item) == 'table' and item.url == executorUrl then
    return {wasBusy, 0, 'already_in_pool', nowMs, previousMs}
  end
end

-- 3. Add only if it was busy and is not in the pool.
if wasBusy == 1 then
  redis.call('lpush', availableKey, executorEntry)
  return {wasBusy, 1, 'released', nowMs, previousMs}
end

return {0, 0, 'not_busy', nowMs, previousMs}
