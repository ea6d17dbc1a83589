--[[
  Read a pool's whole state in one consistent step.

  Input:
    KEYS[1] available executors      (list of JSON entries {"url": ...})
    KEYS[2] pool members             (list of executor urls, in display order)
    KEYS[3] busy marker key prefix   (busy marker of url U is KEYS[3] .. U; same hash tag)

  Output: {available_entries, members, busy}
    available_entries  the list's raw entries, head first
    members            every executor url of the pool
    busy               flat {url, owner, ttl_ms, ...} for each member with a busy marker
]]
local availableKey = KEYS[1]
local membersKey = KEYS[2]
local busyKeyPrefix = KEYS[3]

local members = redis.call('lrange', membersKey, 0, -1)
local busy = {}
for _, url in ipairs(members) do
  local owner = redis.call('get', busyKeyPrefix .. url)
  if owner then
    table.insert(busy, url)
    table.insert(busy, owner)
    table.insert(busy, redis.call('pttl', busyKeyPrefix .. url))
  end
end
return {redis.call('lrange', availableKey, 0, -1), members, busy}
