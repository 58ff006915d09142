-- Shared helper for require("util.keys").
local M = {}

function M.of(ev)
  return ev.schema .. "." .. ev.table .. ":" .. ev.key
end

return M
