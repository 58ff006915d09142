-- Per-action handlers: no on_update, so updates are ignored; snapshot rows
-- go to on_insert; ddl events never reach per-action handlers.
local rec = require("rec")

return {
  name = "actions",
  subscribe = { "shop.items" },
  on_insert = function(ev) rec.write("insert", ev.key, ev.action) end,
  on_delete = function(ev)
    if ev.key == "13" then return false end
    rec.write("delete", ev.key)
  end,
}
