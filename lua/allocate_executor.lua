--[[
  Allocate an executor: take one from the pool and mark it busy, atomically.

  RPOP hands each list entry to exactly one caller, and the busy marker is
  written in the same script, so no caller ever sees an executor that is
  neither available nor busy. The marker carries a TTL: if every callback is
  lost, it expires and the reaper gives the executor back.

  Input:
    KEYS[1] available executors      (list of JSON entries {"url": ...})
    KEYS[2] busy marker key prefix   (busy marker of url U is KEYS[2] .. U; same hash tag)

    ARGV[1] eval id that will own the executor
    ARGV[2] busy marker TTL in seconds

  Output:
    false                          the pool is empty
    {entry, previous_owner}        the JSON entry taken; previous_owner is the eval id that
                                   still held this executor's marker ("" when none). A
                                   previous owner means the pool held a duplicate entry and
                                   two evals now share one executor.
]]
local availableKey = KEYS[1]
local busyKeyPrefix = KEYS[2]
local evalId = ARGV[1]
local ttlSeconds = ARGV[2]

local entry = redis.call('rpop', availableKey)
if not entry then
  return false
end

local ok, item = pcall(cjson.decode, entry)
if not ok or type(item) ~= 'table' or type(item.url) ~= 'string' then
  return redis.error_reply('ERR malformed pool entry: ' .. entry)
end

local previousOwner = redis.call('set', busyKeyPrefix .. item.url, evalId, 'EX', ttlSeconds, 'GET')
return {entry, previousOwner or ''}
