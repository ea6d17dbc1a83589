-- A busy marker holds its owner and the owner's fencing token: "<eval id>@<token>".
-- Eval ids never contain "@", so the token is what follows the last one.
local function busyMarker(evalId, token)
  return evalId .. '@' .. token
end

-- The token a marker holds, as a string ("" for a marker without one).
local function markerToken(marker)
  return string.match(marker, '@(%d+)$') or ''
end

-- Whether a marker (or false, when there is none) holds `token` (a string of digits):
-- a suffix compare, no pattern, since it runs on every release.
local function markerHolds(marker, token)
  if not marker then
    return false
  end
  local suffix = '@' .. token
  return string.sub(marker, -#suffix) == suffix
end
