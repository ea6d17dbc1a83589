--[[
  Write one change of the deck state and number it.

  The change's fields are written and the version counted up by one, so two
  changes of different parts (the slide, a panel) never undo each other. The
  caller also passes the whole state it held before the change: should Redis
  hold less (it restarted empty, or came back from an old snapshot), that state
  goes in first, with its version, and the change is numbered after it. A deck
  that outlives its Redis keeps every part and a version that only grows.

  Input:
    KEYS[1] the deck state           (hash: "version", and one JSON field per part)

    ARGV[1] the version the caller held before this change
    ARGV[2] n, how many ARGV entries after this one are the change (field, value, ...)
    ARGV[3 .. 2+n]   the change, as field, value pairs
    ARGV[3+n .. ]    the whole state the caller held, as field, value pairs (no "version")

  Output: the hash after the change, flat (field, value, ...)
]]
local deckKey = KEYS[1]
local heldVersion = tonumber(ARGV[1])
local changeLength = tonumber(ARGV[2])

--- @include "includes/deckAtLeast"

local change = {}
local held = {}
for i = 3, #ARGV do
  if i <= 2 + changeLength then
    change[#change + 1] = ARGV[i]
  else
    held[#held + 1] = ARGV[i]
  end
end

deckAtLeast(deckKey, heldVersion, held)
if #change > 0 then
  redis.call('hset', deckKey, unpack(change))
end
redis.call('hincrby', deckKey, 'version', 1)
return redis.call('hgetall', deckKey)
