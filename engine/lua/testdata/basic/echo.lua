-- A listener that records, for every event, the fields the tests check.
local rec = require("rec")
local keys = require("util.keys")

return {
  name = "echo",
  subscribe = { "shop.*" },
  batch = 10,
  workers = 2,
  max_wait = 50,
  timeout = 300,
  retry = { max_attempts = 3, backoff = 20 },
  handle = function(events)
    for _, ev in ipairs(events) do
      rec.write(keys.of(ev), ev.action)
    end
  end,
}
