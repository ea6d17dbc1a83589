-- The next fencing token: one more than the counter, and above `knownToken`, the highest token
-- the caller knows was handed out (a Redis that restarted empty has lost the counter, not the tokens).
local function nextToken(counterKey, knownToken)
  local token = redis.call('incr', counterKey)
  if token <= knownToken then
    token = knownToken + 1
    redis.call('set', counterKey, token)
  end
  return token
end
