-- Puts an executor back in the available list unless the index says it is there:
-- list and index change together, so the index stays the list's membership.
-- Returns 1 when it was put back, 0 when it was already available.
local function putBack(availableKey, availableIndexKey, url, entry)
  if redis.call('sadd', availableIndexKey, url) == 0 then
    return 0
  end
  redis.call('lpush', availableKey, entry)
  return 1
end
