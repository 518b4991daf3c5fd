-- usage: a client for the Genesys Cloud Usage API.
--   local usage = require "usage"
--   local client = usage.new { client_id = ..., client_secret = ..., region = "eu_west_1" }
--   local result, err = client:query { interval = "2025-01-01/2025-01-31", groupBy = { "OAuthClientId" } }
-- See README.md for the whole API.

local client = require "usage.client"
require "usage.flows" -- adds the flows to the client
local regions = require "usage.regions"
local operations = require "usage.operations"
local models = require "usage.models"
local errors = require "usage.errors"
local json = require "usage.json"
local scheduler = require "usage.scheduler"
local interval = require "usage.interval"

local usage = {
  _VERSION = client.VERSION,
  regions = regions.by_key,
  operations = operations.list,
  models = models.models,
  enums = models.enums,
  null = json.null,
  new = client.new,
  is_error = errors.is_error,
  array = json.array,
  json = json,          -- encode/decode as the client does (arrays stay arrays, counts integers)
  interval = interval,  -- interval.last(seconds), interval.parse("START/END"), interval.format(t)
}

-- gather(fns) -> results, errs: run the functions concurrently (coroutines on one scheduler, or
-- nginx light threads inside OpenResty); results[i], errs[i] are the first two values function i
-- returned, or nil and the error it raised.
function usage.gather(fns)
  if type(fns) ~= "table" then error("usage.gather: expects an array of functions", 2) end
  for i = 1, #fns do
    if type(fns[i]) ~= "function" then
      error(string.format("usage.gather: item %d is a %s, not a function", i, type(fns[i])), 2)
    end
  end
  if not scheduler.current() and ngx and ngx.get_phase then -- luacheck: ignore (the nginx global)
    return require("usage.resty").gather(fns)
  end
  return scheduler.gather(fns)
end

return usage
