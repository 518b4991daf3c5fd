-- examples/quickstart.lua: the Lua API in one script. Runs against the fake cloud by default:
--   make fake                      # in one terminal: the fake Genesys Cloud on http://127.0.0.1:8089
--   make example                   # in another (or: lua5.4 examples/quickstart.lua, see below)
-- Against a real organization: set GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET and
-- GENESYSCLOUD_REGION, and GENESYS_USAGE_BASE_URL= (empty) to use the region's API host.
-- From a checkout: LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 examples/quickstart.lua
local usage = require "usage"

local base_url = os.getenv("GENESYS_USAGE_BASE_URL") or "http://127.0.0.1:8089"
local client = usage.new {
  base_url = base_url ~= "" and base_url or nil,
  region = os.getenv("GENESYSCLOUD_REGION") or nil,
  client_id = os.getenv("GENESYSCLOUD_OAUTHCLIENT_ID") or "demo-client",
  client_secret = os.getenv("GENESYSCLOUD_OAUTHCLIENT_SECRET") or "demo-secret",
  poll = { interval = 0.5 },
}

-- Usage is counted in whole UTC days and today is never complete: the helpers give the interval of whole
-- days for each generation (`query` for the old one, [start, end); `jobs` for aggregates jobs, both ends
-- inclusive) and a label saying which days they are.
local week = usage.interval.days(7)   -- the 7 complete days before today

-- 1. One call that submits, polls and returns: who called the API last week, per OAuth client.
local result, err = client:query { interval = week.query, groupBy = { "OAuthClientId" }, metrics = { "Requests", "Status429" } }
if not result then
  io.stderr:write("query failed: ", tostring(err), "\n")
  os.exit(1)
end
local per_client = {} -- rows come per client and time bucket: add them up
for _, row in ipairs(result.results) do
  local t = per_client[row.clientId] or { id = row.clientId, requests = 0, status429 = 0 }
  per_client[row.clientId] = t
  t.requests = t.requests + (row.requests or 0)
  t.status429 = t.status429 + (row.status429 or 0)
end
local top = {}
for _, t in pairs(per_client) do top[#top + 1] = t end
table.sort(top, function(a, b) return a.requests > b.requests end)
print("Top OAuth clients, " .. week.label .. " (UTC):")
for i = 1, math.min(5, #top) do
  print(string.format("  %-36s %15.0f requests %12.0f x 429", top[i].id, top[i].requests, top[i].status429))
end

-- 2. A paged job streamed row by row: one page in memory at a time. Past 90 days the library splits the
-- interval into jobs of at most 90 days, started together and read in date order (pager.jobs).
local month = usage.interval.last_month()
local pager = client:aggregates({ interval = month.jobs, groupBy = { "TemplateUri", "HttpMethod" } },
                                { page_size = 500 })
local by_endpoint = {}
for row in pager:rows() do -- raises the error table if the job fails
  local key = row.httpMethod .. " " .. row.templateUri
  by_endpoint[key] = (by_endpoint[key] or 0) + row.requestCount
end
print(string.format("%s: %d endpoints in %d rows over %d pages", month.label, (function()
  local n = 0 for _ in pairs(by_endpoint) do n = n + 1 end return n end)(), pager.row_count, pager.page_count))

-- 3. Several queries at once: they share one login and one libcurl multi handle.
local results, errs = usage.gather {
  function() return client:query { interval = week.query, granularity = "Day" } end,
  function() return client:search({ interval = week.query, httpMethods = { "DELETE" } }):all() end,
}
print(string.format("gathered: %s daily rows, %s DELETE search rows",
  results[1] and #results[1].results or tostring(errs[1]), results[2] and #results[2] or tostring(errs[2])))

-- 4. A raw operation, with the error table and the response metadata.
local _, e, meta = client:getUsageQueryExecutionIdResults("no-such-execution")
print("raw call:", tostring(e), meta and meta.status)
