-- docs/gen_history_sample.lua: the real output shown in docs/store.md ("Reports over any span"). Starts the
-- fake cloud, syncs a SQLite store as the service answered a year ago (the fake's today pinned) and as it
-- answers now, under three org labels, then prints the report's renderings of a comparison with the
-- previous year and of the org view. The figures follow the date of the run.
--   LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
--     lua5.4 docs/gen_history_sample.lua [table|csv|json|orgs|missing]
local H = require "helper"
local store = require "usage.store"
local history = require "usage.history"
local interval = require "usage.base.interval"
local aggregate = require "usage.cli.report.aggregate"
local rcompare = require "usage.cli.report.compare"
local rformats = require "usage.cli.report.formats"

local what = arg[1] or "table"
local NOW = os.time()
local T = interval.day_of(NOW)
local function date(d) return interval.date(d) end

local fake = H.start { config = { lifecycle = { polls = 0 } } }
local ok, err = pcall(function()
  local client = H.client(fake, { validate = false })
  local globex = H.client(fake, { client_id = H.clients.org_viewer.id, client_secret = H.clients.org_viewer.secret })
  local path = os.tmpname() .. ".sqlite3"
  local s = assert(store.open(path))
  fake:config { today = date(T - 365) }
  assert(s:sync(client, { org = "acme", now = NOW - 365 * 86400, first = date(T - 400) }))
  fake:config { today = false }
  assert(s:sync(client, { org = "acme", first = date(T - 60) }))
  assert(s:sync(globex, { org = "globex", first = date(T - 20) }))
  assert(s:put("staging", date(T - 60), date(T - 1), {}))
  local src = history.from_store(s)
  local span = interval.days_of(T - 30, T - 1)
  if what == "orgs" or what == "missing" then
    local res = assert(src:read { days = span })
    local r = aggregate.rank(aggregate.from_history(res), { top = 3, by_org = what == "orgs" })
    io.write(rformats.table(r, aggregate.display(r), "Genesys Cloud API usage, " .. res.label .. " (UTC)"))
  else
    local cmp = assert(src:compare { days = span, org = "acme", compare = "previous-year" })
    local r = rcompare.rank(cmp, { top = 5 })
    if what == "csv" then io.write(rformats.csv(r))
    elseif what == "json" then io.write(rformats.json(r))
    else io.write(rformats.table(r, rcompare.display(r))) end
  end
  s:close()
  os.remove(path)
end)
fake:stop()
if not ok then error(err, 0) end
