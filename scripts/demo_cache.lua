-- demo_cache.lua — keep every row of moontide_demo.items in Redis.
--
-- Each row is stored as JSON under "item:<id>"; a delete removes the key.
-- The keys have no expiry: the binlog keeps each one current for as long as
-- its row exists, and an expiry would only drop rows that are still right.
-- Writes are buffered and sent as one Redis pipeline when the batch ends;
-- the binlog position is committed only after Redis acknowledged them, and
-- a failed batch is retried in order.
local redis = require("redis")
local json  = require("json")
local keys  = require("demo.keys")

return {
  name      = "demo-cache",
  subscribe = { "moontide_demo.items" },
  -- The event fields the handler reads; the others (id, pos, tx, ...) are
  -- not built, which halves the cost of handing events to Lua.
  fields    = { "action", "key", "after" },
  batch     = 500,
  -- Events of one row always go to the same worker, in order. More workers
  -- than cores: while one waits for Redis to answer its pipeline, the
  -- others convert and run their batches.
  workers   = 4,
  retry     = { backoff = 200 }, -- ms; doubles per failed attempt

  handle = function(events)
    for _, ev in ipairs(events) do
      local action = ev.action
      if action == "delete" then
        redis.del(keys.item(ev))
      elseif action ~= "ddl" then -- insert, update, snapshot
        -- ev.after holds exact values: DECIMAL price as a string, BIGINT
        -- beyond 2^53 as a string, NULL as json.null (encoded as null).
        redis.set(keys.item(ev), json.encode(ev.after))
      end
    end
  end,
}
