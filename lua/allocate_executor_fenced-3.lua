--[[
  Allocate an executor and hand its new owner a fencing token. O(1) in pool size.

  RPOP hands each list entry to exactly one caller, and the busy marker is
  written in the same script, so no caller ever sees an executor that is
  neither available nor busy. The marker carries a TTL: if every callback is
  lost, it expires and the reaper gives the executor back.

  The token comes from a counter that is only ever incremented (never reset,
  not even by a pool reset), so every allocation's token is larger than every
  earlier one. A Redis that restarts empty forgets the counter: the caller then
  passes the highest token it knows of (ARGV[3]), and the counter starts above
  it instead of at 1, so no token is handed out twice. The marker holds it; a
  release must present it
  (lua/release_executor_fenced-2.lua), so a late callback of an earlier owner
  can no longer free the executor of the owner after it.

  Input:
    KEYS[1] available executors      (list of JSON entries {"url": ...})
    KEYS[2] fencing token counter    (integer)
    KEYS[3] busy marker key prefix   (busy marker of url U is KEYS[3] .. U; same hash tag)

    ARGV[1] eval id that will own the executor (no "@" in it)
    ARGV[2] busy marker TTL in milliseconds
    ARGV[3] the highest token the caller knows was handed out (optional, default 0)

  Output:
    false                                 the pool is empty
    {entry, previous_marker, token}       the JSON entry taken; the new owner's token;
                                          previous_marker is the marker this one replaced
                                          ("" when none). A previous marker means the list
                                          held a duplicate entry and two evals now share
                                          one executor.
]]
local availableKey = KEYS[1]
local tokenCounterKey = KEYS[2]
local busyKeyPrefix = KEYS[3]
local evalId = ARGV[1]
local ttlMs = ARGV[2]
local knownToken = tonumber(ARGV[3]) or 0

--- @include "includes/entryUrl"
--- @include "includes/busyMarker"
--- @include "includes/tokenCounter"

local entry = redis.call('rpop', availableKey)
if not entry then
  return false
end

local url = entryUrl(entry)
if not url then
  return redis.error_reply('ERR malformed pool entry: ' .. entry)
end

local token = nextToken(tokenCounterKey, knownToken)
local previousMarker = redis.call('set', busyKeyPrefix .. url, busyMarker(evalId, token), 'PX', ttlMs, 'GET')
return {entry, previousMarker or '', token}
