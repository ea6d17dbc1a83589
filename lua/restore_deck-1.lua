--[[
  Put back the deck state a server holds, when Redis holds an older one or none.

  Run by every server instance when its Redis is back: a Redis that restarted
  empty has lost the slide, the open panels, the faults, the runtimes and whether
  a talk is live, while each instance still shows them. The newest of them is
  what stays (an instance holding an older version writes nothing), and the
  version is the one it had, never a new count from 1.

  Input:
    KEYS[1] the deck state           (hash: "version", and one JSON field per part)

    ARGV[1] the version the caller holds
    ARGV[2 .. ] the whole state the caller holds, as field, value pairs (no "version")

  Output: {wrote, hash}: 1 when the caller's state was written, 0 when Redis held as new
          a one; hash is the state as Redis now holds it, flat (field, value, ...)
]]
local deckKey = KEYS[1]
local heldVersion = tonumber(ARGV[1])

--- @include "includes/deckAtLeast"

local held = {}
for i = 2, #ARGV do
  held[#held + 1] = ARGV[i]
end

local wrote = deckAtLeast(deckKey, heldVersion, held)
return {wrote and 1 or 0, redis.call('hgetall', deckKey)}
