-- A busy marker holds its owner and the owner's fencing token: "<eval id>@<token>".
-- Eval ids never contain "@", so the token is what follows the last one.
local function busyMarker(evalId, token)
  return evalId .. '@' .. token
end

-- The token a marker holds, as a number (0 for a marker without one).
local function markerToken(marker)
  return tonumber(string.match(marker, '@(%d+)$')) or 0
end
