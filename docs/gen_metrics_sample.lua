-- docs/gen_metrics_sample.lua: prints what usage.prometheus.render makes of a small, realistic set
-- of figures: the samples in docs/metrics.md (spec/prometheus_spec.lua checks that they are current).
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" lua5.4 docs/gen_metrics_sample.lua          one org
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/lua5.4/?.so;;" \
--     lua5.4 docs/gen_metrics_sample.lua orgs                                          two orgs, a forecast

local prometheus = require "usage.prometheus"

-- rows of an aggregates job grouped by OauthClientId and OauthClientName, one day
local rows = {
  { date = "2026-11-30", oauthClient = { id = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac", name = "Acme Reporting" },
    requestCount = 48210, status200 = 47100, status300 = 0, status400 = 1080, status429 = 912, status500 = 30 },
  { date = "2026-11-30", oauthClient = { id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", name = "Bulk \"Export\" Service" },
    requestCount = 5994582206, status200 = 5994580000, status300 = 0, status400 = 2200, status429 = 2150, status500 = 6 },
}

-- month to date (complete days): the totals an aggregates job over 2026-11-01..2026-11-30 gives
local month = {
  { id = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac", name = "Acme Reporting", requests = 1402113,
    status200 = 1380020, status300 = 12, status400 = 21991, status429 = 20870, status500 = 90 },
  { id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", name = "Bulk \"Export\" Service", requests = 171342090012,
    status200 = 171341990001, status300 = 0, status400 = 99941, status429 = 98000, status500 = 70 },
}

local acme = {
  org = "acme",
  usage = {
    day = { first = "2026-11-30", last = "2026-11-30", clients = prometheus.fold_rows(rows) },
    month = { first = "2026-11-01", last = "2026-11-30", clients = month },
  },
  collector = { success_timestamp = 1796112000, duration = 14.75, errors = 0 },
  client = { requests = 37, retries = 1, responses_429 = 1, logins = 1,
             ratelimit = { count = 12, allowed = 300, reset = 48 } },
}

if arg[1] ~= "orgs" then
  io.write(prometheus.render(acme))
  return
end

-- two orgs in one run (20 November 2026, 06:00 UTC), the month period only, acme with an allowance: its
-- forecast from the same job's rows
local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local now = interval.parse_instant("2026-11-20T06:00:00Z")
local span = forecast.span(now)
local frows = {}
for d = span.first_day, span.last_day do
  local weekday = (d + 3) % 7 + 1
  frows[#frows + 1] = { date = interval.date(d), client_id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd",
                        client_name = "Bulk \"Export\" Service", requests = (weekday <= 5 and 5711403 or 1204570) + (d % 3) * 150000 }
end
-- (the month period folds the same rows: 1-19 November, as the forecast's month to date)
local one = { id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", name = "Bulk \"Export\" Service", requests = 0 }
for _, r in ipairs(frows) do
  if r.date >= "2026-11-01" then one.requests = one.requests + r.requests end
end
acme = { org = "acme", usage = { month = { first = "2026-11-01", last = "2026-11-19", clients = { one } } },
         collector = { success_timestamp = 1795155600, duration = 14.75, errors = 0 },
         forecast = assert(forecast.compute { now = now, org = "acme", allowance = forecast.allowance { licenses = "cx3=1000" },
                                              rows = frows }) }
local globex = { org = "globex", usage = { month = { first = "2026-11-01", last = "2026-11-19",
                 clients = { { id = "5c1d0e9a-77b0-4f11-9a3e-2f0c4d8be101", name = "WFM Sync", requests = 9120455 } } } },
                 collector = { success_timestamp = 1795155590, duration = 9.5, errors = 0 } }
io.write(prometheus.render_orgs { acme, globex })
