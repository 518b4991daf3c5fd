-- docs/gen_metrics_sample.lua: prints what usage.prometheus.render makes of a small, realistic set
-- of figures: the sample in docs/metrics.md (spec/prometheus_spec.lua checks that it is current).
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" lua5.4 docs/gen_metrics_sample.lua

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

io.write(prometheus.render {
  usage = {
    day = { first = "2026-11-30", last = "2026-11-30", clients = prometheus.fold_rows(rows) },
    month = { first = "2026-11-01", last = "2026-11-30", clients = month },
  },
  collector = { success_timestamp = 1796112000, duration = 14.75, errors = 0 },
  client = { requests = 37, retries = 1, responses_429 = 1, logins = 1,
             ratelimit = { count = 12, allowed = 300, reset = 48 } },
})
