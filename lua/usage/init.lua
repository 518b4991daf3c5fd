-- usage: a client for the Genesys Cloud Usage API.
--   local usage = require "usage"
--   local client = usage.new { client_id = ..., client_secret = ..., region = "eu_west_1" }
--   local days = usage.interval.days(7)       -- the 7 complete UTC days before today
--   for row in client:aggregates { interval = days.jobs, groupBy = { "OauthClientId" } }:rows() do ... end
-- See README.md for the whole API and docs/architecture.md for the modules.

local core = require "usage.core"
local errors = require "usage.base.errors"
local json = require "usage.base.json"
local interval = require "usage.base.interval"
local regions = require "usage.api.regions"
local models = require "usage.api.models"
local operations = require "usage.api.operations"
local window = require "usage.api.window"
local runtime = require "usage.runtime"
local flows = require "usage.flows"
local client = require "usage.client"

-- usage.interval: whole UTC days (usage.base.interval) and the window an aggregates job may start in
-- (usage.api.window: one_year_ago, first_allowed_day, one_year, check_start, one_year_before)
local days = {}
for k, v in pairs(interval) do days[k] = v end
for k, v in pairs(window) do days[k] = v end

local usage = {
  _VERSION = client.VERSION,
  regions = regions.by_key,
  operations = operations.list,
  flows = flows.list,
  models = models.models,
  enums = models.enums,
  null = json.null,
  new = client.new,
  is_error = errors.is_error,
  array = json.array,
  json = json,          -- encode/decode as the client does (arrays stay arrays, counts integers)
  interval = days,      -- whole UTC days: days(n), yesterday(), this_month(), last_month(), month("YYYY-MM"),
                        -- range(first, last); and parse, format, duration
}

-- gather(fns) -> results, errs: run the functions concurrently (coroutines on one scheduler, or nginx
-- light threads inside OpenResty); results[i], errs[i] are the first two values function i returned, or
-- nil and the error it raised.
function usage.gather(fns)
  if type(fns) ~= "table" then error("usage.gather: expects an array of functions", 2) end
  for i = 1, #fns do
    if type(fns[i]) ~= "function" then
      error(string.format("usage.gather: item %d is a %s, not a function", i, type(fns[i])), 2)
    end
  end
  return runtime.gather(fns)
end

-- trap_signals([names]): from now on the signals (default INT, TERM, HUP) end every wait and transfer of
-- this process at once with err.code "interrupted" (err.signal = "INT", ...), instead of the default action.
-- For programs that want to stop cleanly (the command line does); never inside nginx.
function usage.trap_signals(names)
  names = names or { "INT", "TERM", "HUP" }
  if type(names) ~= "table" then error("usage.trap_signals: expects an array of signal names", 2) end
  core.trap_signals(names)
end

-- pending_signal() -> "INT" | "TERM" | ... , its number (2, 15, ...) | nil: the trapped signal received first
function usage.pending_signal()
  return core.pending_signal()
end

return usage
