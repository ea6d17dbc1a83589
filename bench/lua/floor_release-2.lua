--[[
  The floor a release is measured against: the least a release can do in Redis
  (delete the busy marker, push the entry) plus the RPOP that takes it out again,
  so the list keeps its length and the script can run any number of times. The
  bench sets the markers before each batch, so the DEL deletes one, as a release's does.

  Input:
    KEYS[1] busy marker of the executor
    KEYS[2] available executors (list)

    ARGV[1] executor entry

  Output: the entry popped
]]
local busyKey = KEYS[1]
local availableKey = KEYS[2]
local executorEntry = ARGV[1]

redis.call('del', busyKey)
redis.call('lpush', availableKey, executorEntry)
return redis.call('rpop', availableKey)
