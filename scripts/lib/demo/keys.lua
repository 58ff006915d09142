-- demo/keys.lua — key names shared by the demo listeners
-- (require("demo.keys")). Files under scripts/lib/ are modules, not
-- listeners.
local M = {}

-- item returns the Redis key of an event of moontide_demo.items. ev.key is
-- the row's primary key already written as a string (its columns joined
-- with ":"), the same for an insert, an update and a delete of the row.
function M.item(ev)
  return "item:" .. ev.key
end

return M
