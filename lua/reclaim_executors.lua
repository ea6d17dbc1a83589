--[[
  Give back every executor of a pool that is neither busy nor available.

  The busy marker's TTL is the safety net for an eval whose callbacks never run:
  but expiry only deletes the marker. This script puts such an executor back. It
  runs when Redis reports an expired marker (prompt, but notifications are
  fire-and-forget) and on a periodic sweep (catches whatever was missed).
  An executor that is busy or already available is left alone, so running it
  any number of times is safe.

  It reads the list itself: the list is what allocation hands out. A sweep, not
  a per-call path: O(pool size) is fine here.

  Input:
    KEYS[1] available executors      (list of JSON entries {"url": ...})
    KEYS[2] pool members             (list of executor urls, in display order)
    KEYS[3] busy marker key prefix   (busy marker of url U is KEYS[3] .. U; same hash tag)

  Output: the urls put back (empty when the pool was whole)
]]
local availableKey = KEYS[1]
local membersKey = KEYS[2]
local busyKeyPrefix = KEYS[3]

--- @include "includes/entryUrl"

local inPool = {}
for _, raw in ipairs(redis.call('lrange', availableKey, 0, -1)) do
  local url = entryUrl(raw)
  if url then
    inPool[url] = true
  end
end

local reclaimed = {}
for _, url in ipairs(redis.call('lrange', membersKey, 0, -1)) do
  if not inPool[url] and redis.call('exists', busyKeyPrefix .. url) == 0 then
    redis.call('lpush', availableKey, cjson.encode({url = url}))
    inPool[url] = true
    table.insert(reclaimed, url)
  end
end
return reclaimed
