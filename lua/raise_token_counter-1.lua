--[[
  Raise a pool's fencing token counter to at least a given token; never lower it.

  Run by a server when its Redis is back: a Redis that restarted empty starts the
  counter again at 0, while the server still remembers the highest token it saw
  handed out. Raising the counter to it means even an allocation that passes no
  known token (lua/allocate_executor_fenced-3.lua) never hands one out twice.

  Input:
    KEYS[1] fencing token counter    (integer)

    ARGV[1] the highest token the caller knows was handed out

  Output: the counter, as it is now
]]
local tokenCounterKey = KEYS[1]
local knownToken = tonumber(ARGV[1]) or 0

local counter = tonumber(redis.call('get', tokenCounterKey)) or 0
if counter < knownToken then
  redis.call('set', tokenCounterKey, knownToken)
  return knownToken
end
return counter
