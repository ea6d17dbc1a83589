--[[
  Replace a pool with a fresh one in one step, so no viewer sees half a reset.

  The fencing token counter is left alone on purpose: tokens keep growing across
  resets, so a callback from before a reset can never match a marker made after it.

  Input:
    KEYS[1] available executors           (list of JSON entries {"url": ...})
    KEYS[2] pool members                  (list of executor urls, in display order)
    KEYS[3] busy marker key prefix        (busy marker of url U is KEYS[3] .. U; same hash tag)
    KEYS[4] release times key prefix      (release times of url U is KEYS[4] .. U; same hash tag)

    ARGV[1..n] the new executors' urls

  Output: the number of executors now available (n)
]]
local availableKey = KEYS[1]
local membersKey = KEYS[2]
local busyKeyPrefix = KEYS[3]
local releaseTimesKeyPrefix = KEYS[4]

for _, url in ipairs(redis.call('lrange', membersKey, 0, -1)) do
  redis.call('del', busyKeyPrefix .. url, releaseTimesKeyPrefix .. url)
end
redis.call('del', availableKey, membersKey)

for _, url in ipairs(ARGV) do
  redis.call('del', busyKeyPrefix .. url, releaseTimesKeyPrefix .. url)
  redis.call('rpush', membersKey, url)
  redis.call('lpush', availableKey, cjson.encode({url = url}))
end
return #ARGV
