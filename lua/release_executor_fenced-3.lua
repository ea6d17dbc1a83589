--[[
  Release an executor back to its pool, fenced: only its current owner can.

  The talk's release (release_executor.lua) deletes whichever busy marker it
  finds. A callback that arrives late, after the executor was handed to the
  next eval, therefore frees the NEXT eval's executor, and a third eval is
  then handed an executor that is still in use. This release carries the
  fencing token its eval was given at allocation and frees the executor only
  while the marker holds that token; otherwise it changes nothing.

  O(1) in pool size: "already available?" is one SISMEMBER-like step on the
  index set, not a scan of the list.

  Input:
    KEYS[1] busy marker of the executor  (string "<eval id>@<token>", with a TTL)
    KEYS[2] available executors          (list of JSON entries {"url": ...})
    KEYS[3] available index              (set of the urls in KEYS[2]; kept with it)

    ARGV[1] executor url
    ARGV[2] executor entry: the JSON pushed into the available list
    ARGV[3] the releasing eval's fencing token

  Output: {owned, added, status, held_token}
    {1, 1, "released", token}         the marker held this token; the executor is available again
    {1, 0, "already_in_pool", token}  the marker held this token but the url was already available
                                      (a duplicate some other release made): marker deleted, nothing added
    {0, 0, "stale_release", held}     the marker is gone (released, expired) or holds another
                                      owner's token `held` (0 when none): nothing changed
]]
local busyKey = KEYS[1]
local availableKey = KEYS[2]
local availableIndexKey = KEYS[3]
local executorUrl = ARGV[1]
local executorEntry = ARGV[2]
local token = ARGV[3]

--- @include "includes/busyMarker"
--- @include "includes/putBack"

local marker = redis.call('get', busyKey)
if not markerHolds(marker, token) then
  return {0, 0, 'stale_release', tonumber(marker and markerToken(marker) or 0) or 0}
end

redis.call('del', busyKey)
if putBack(availableKey, availableIndexKey, executorUrl, executorEntry) == 0 then
  return {1, 0, 'already_in_pool', tonumber(token)}
end
return {1, 1, 'released', tonumber(token)}
