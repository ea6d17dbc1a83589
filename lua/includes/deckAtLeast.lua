-- Makes the deck hash hold at least `version`: when it holds less (a Redis that restarted
-- empty holds nothing), the whole state the caller holds is written back with its version,
-- so versions never go backwards. `fields` is a flat list: field, value, field, value, ...
-- Returns true when it wrote.
local function deckAtLeast(deckKey, version, fields)
  local held = tonumber(redis.call('hget', deckKey, 'version'))
  if held and held >= version then
    return false
  end
  redis.call('del', deckKey)
  redis.call('hset', deckKey, 'version', version, unpack(fields))
  return true
end
