--[[
  Release an executor back to its pool, fenced: only its current owner can.

  The talk's release (release_executor.lua) deletes whichever busy marker it
  finds. A callback that arrives late, after the executor was handed to the
  next eval, therefore frees the NEXT eval's executor, and a third eval is
  then handed an executor that is still in use. This release names the owner
  it releases for, `<eval id>@<token>` with the fencing token its allocation
  handed out, and frees the executor only while the marker holds exactly that;
  otherwise it changes nothing.

  O(1) in pool size, and no membership lookup: the marker is the executor's
  state. Allocation takes the entry out of the list and writes the marker in
  one script, and nothing puts an entry back while its marker stands (this
  script deletes the marker as it pushes; the reclaim only pushes an executor
  with no marker that is not listed). So "the marker holds my token" already
  proves "not in the list": a second copy of that fact in an index set would
  cost a write per release and tell nothing new.

  Three commands, as the floor a release is measured against (bench/lua), and
  the common answer is a bulk string, the cheapest reply Lua can build: a
  table reply costs Redis more than the whole compare does.

  Input:
    KEYS[1] busy marker of the executor  (string "<eval id>@<token>", with a TTL)
    KEYS[2] available executors          (list of JSON entries {"url": ...})

    ARGV[1] executor entry: the JSON pushed into the available list
    ARGV[2] the owner releasing: "<eval id>@<token>", as its allocation wrote the marker

  Output:
    "released"                    the marker held this owner: deleted, the executor is available again
    {"stale_release", held}       the marker is gone (released, expired) or holds another owner:
                                  nothing changed; `held` is the token it holds (0 when none)
]]
local busyKey = KEYS[1]
local availableKey = KEYS[2]
local executorEntry = ARGV[1]
local owner = ARGV[2]

local marker = redis.call('get', busyKey)
if marker ~= owner then
  -- Only the refusal reads the marker's token, so only it pays for the parsing.
--- @include "includes/busyMarker"
  return {'stale_release', marker and markerToken(marker) or 0}
end

redis.call('del', busyKey)
redis.call('lpush', availableKey, executorEntry)
return 'released'
