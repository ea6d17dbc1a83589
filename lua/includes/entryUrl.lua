-- The url of an available-list entry (JSON {"url": ...}), or nil when the entry is malformed.
local function entryUrl(entry)
  local ok, item = pcall(cjson.decode, entry)
  if ok and type(item) == 'table' and type(item.url) == 'string' then
    return item.url
  end
  return nil
end
