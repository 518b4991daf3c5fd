-- examples/history.lua: reports over any span from a history store (usage.store + usage.history). Syncs
-- the org into a store, then reads it: a month of usage with the days it covers, the last two weeks
-- against the two before, each org with its top clients, and the fair-use forecast from the store.
-- Runs against the fake cloud by default:
--   make fake                      # in one terminal: the fake Genesys Cloud on http://127.0.0.1:8089
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 examples/history.lua [STORE]
-- STORE: a SQLite file or a postgresql:// URL (default: a new file under /tmp). Against a real
-- organization: GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION, and
-- GENESYS_USAGE_BASE_URL= (empty).
local usage = require "usage"
local store = require "usage.store"
local history = require "usage.history"
local forecast = require "usage.forecast"

local base_url = os.getenv("GENESYS_USAGE_BASE_URL") or "http://127.0.0.1:8089"
local client = usage.new {
  base_url = base_url ~= "" and base_url or nil,
  region = os.getenv("GENESYSCLOUD_REGION") or nil,
  client_id = os.getenv("GENESYSCLOUD_OAUTHCLIENT_ID") or "demo-client",
  client_secret = os.getenv("GENESYSCLOUD_OAUTHCLIENT_SECRET") or "demo-secret",
  poll = { interval = 0.5 },
}

local function check(v, err)
  if v == nil then
    io.stderr:write(tostring(err), "\n")
    os.exit(1)
  end
  return v
end

local n = usage.interval.day_of(os.time())
local s = check(store.open(arg[1] or os.tmpname() .. ".sqlite3"))
-- 1. Sync: the days the store lacks (here the last 60, to be quick; without `first`, the whole year the
--    service serves). Run it daily from cron: a store keeps every day, past the API's year.
local synced = check(s:sync(client, { org = "acme", first = usage.interval.date(n - 60) }))
print(string.format("synced %s: %d days added, %d rows", synced.label, synced.days_added, synced.rows))

local src = history.from_store(s)

-- 2. Any span: one SQL read, the days the store covers and lacks said.
local month = check(src:read { first = usage.interval.date(n - 30), last = usage.interval.date(n - 1) })
local o = month.orgs[1]
print(string.format("%s: %d requests, %d of %d days in the store%s", month.label, month.aggregation.total.requests,
                    o.covered, o.days, month.complete and "" or (" (missing: " .. history.dates_label(month.missing) .. ")")))

-- 3. A comparison: each client's change against the 14 days before (previous-year compares with the same
--    dates a year earlier, which only a store that was synced then holds).
local cmp = check(src:compare { first = usage.interval.date(n - 14), last = usage.interval.date(n - 1),
                                compare = "previous-period" })
print(string.format("%s against %s: %+d requests", cmp.current.label, cmp.previous.label, cmp.total.change.requests))
for i = 1, 3 do
  local c = cmp.clients[i]
  local pct = c.percent.requests and string.format("%+.1f%%", c.percent.requests * 100) or c.state
  print(string.format("  %-20s %12d  was %12d  %s", c.name, c.current.requests, c.previous.requests, pct))
end

-- 4. The org view: one entry per org of the store, its totals and its top clients.
for _, org in ipairs(history.by_org(month, { top = 2 })) do
  print(string.format("org %s: %d requests (%.1f%% 429), top: %s, %s", org.org, org.total.requests,
                      org.classes[4].share * 100, org.clients[1].name, org.clients[2].name))
end

-- 5. The fair-use forecast from the store's days (the API's own job is forecast.from_api).
local input = check(src:forecast_input { org = "acme" })
local f = check(forecast.compute { org = "acme", rows = input.rows, known = input.known, source = input.source,
                                   allowance = check(forecast.allowance { licenses = "cx3=1000" }) })
print(string.format("forecast %s: month to date %d (%s), projection %d, %.1f%% of the allowance", f.month.name,
                    f.month_to_date.requests, f.month_to_date.days.label, f.projection.requests, f.projection.share * 100))
s:close()
