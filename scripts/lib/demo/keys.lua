-- demo/keys.lua — key names shared by the demo listeners
-- (require("demo.keys")). Files under scripts/lib/ are modules, not
-- listeners.
local M = {}

-- item returns the Redis key of an items row image.
function M.item(row)
  return "item:" .. tostring(row.id)
end

return M
