--[[
  Note when a presenter was last seen, shared by every server instance.

  The key holds the time of the last sign of life, and expires when the idle
  time after it is over. Only a later sighting replaces it: an instance writing
  back what it remembers after Redis restarted empty never shortens a newer one.

  Input:
    KEYS[1] the presenter's last sign of life  (string: epoch milliseconds, with a TTL)

    ARGV[1] when the presenter was seen (epoch milliseconds)
    ARGV[2] how long that keeps a talk live from now (milliseconds, > 0)

  Output: the time the key holds now
]]
local seenKey = KEYS[1]
local seenAt = tonumber(ARGV[1])
local ttlMs = ARGV[2]

local held = tonumber(redis.call('get', seenKey))
if held and held >= seenAt then
  return held
end
redis.call('set', seenKey, seenAt, 'PX', ttlMs)
return seenAt
