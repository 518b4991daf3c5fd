-- The acceptance of issue 20: a sync against the fake cloud now, then again with the fake and the syncing
-- process moved a year forward (libfaketime), yields a store that spans more than a year whose totals for
-- every day equal what the API answered for that day. Under SQLite and a real PostgreSQL.
local store = require "usage.store"
local usage = require "usage"
local interval = require("usage").interval -- (whole days and the window a job may start in)
local rows_mod = require "usage.base.rows"
local support = require "support.store"
local cli = require "support.cli"
local nginx = require "support.nginx"
local H = require "helper"

local COUNTS = rows_mod.COUNTS
local LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

-- per-day totals as the API answers them
local function api_daily(client, first, last)
  local out = {}
  for _, span in ipairs(interval.split(first, last, 90)) do
    local rows = assert(client:aggregates({ interval = interval.days_of(span.first, span.last).jobs,
                                            granularity = "Day" }):all())
    for _, r in ipairs(rows) do
      local n = rows_mod.normalize(r)
      local t = out[n.date] or {}
      for _, c in ipairs(COUNTS) do t[c] = (t[c] or 0) + n[c] end
      out[n.date] = t
    end
  end
  return out
end

describe("a store past the API's one-year window (libfaketime)", function()
  it("has libfaketime", function()
    assert.truthy(nginx.read_file(LIBFAKETIME), "libfaketime is missing: apt-get install faketime (make deps)")
  end)

  for _, B in ipairs(support.backends()) do
    describe(B.name, function()
      local now_fake, later_fake, t
      setup(function() B:start() end)
      teardown(function()
        if now_fake then now_fake:stop() end
        if later_fake then later_fake:stop() end
        if t then t:cleanup() end
        B:stop()
      end)

      it("syncs now and a year later: every day of more than a year equals what the API answered", function()
        -- about a year later: 360 days, so that the first sync's last days are still in the service's window
        -- (a year of the strict reading is whole days from now minus one year: two syncs 365 days apart
        -- leave the one day between their windows unreachable; docs/store.md)
        local now = os.time()
        local later = now + 360 * 86400
        local stamp = os.date("!%Y-%m-%d %H:%M:%S", later)
        -- libfaketime reads FAKETIME again every few seconds, and nginx clears its workers' environment:
        -- a long cache keeps the worker on the faked clock
        local env = { LD_PRELOAD = LIBFAKETIME, FAKETIME = "@" .. stamp, FAKETIME_CACHE_DURATION = "100000000" }
        local prefix = {}
        for k, v in pairs(env) do prefix[#prefix + 1] = k .. "=" .. nginx.sh_quote(v) end
        table.sort(prefix)

        -- now: the first sync (the backfill of the year the service serves)
        now_fake = H.start { config = { lifecycle = { polls = 0 } } }
        local now_client = H.client(now_fake)
        local target = B:target("years")
        local s = assert(store.open(target))
        local first_sync = assert(s:sync(now_client, { org = "acme" }))
        s:close()
        local first1, last1 = interval.parse_date(first_sync.first), interval.parse_date(first_sync.last)
        assert.equal(interval.first_allowed_day(now), first1)
        local api1 = api_daily(now_client, first1, last1)

        -- a year later: the fake and the syncing process both on the faked clock
        later_fake = H.start { config = { lifecycle = { polls = 0 } },
                               nginx = "env " .. table.concat(prefix, " ") .. " nginx" }
        t = cli.new { base_url = later_fake.base_url }
        local r = t:run({ target, "acme" }, { script = cli.REPO .. "/spec/support/store_run.lua", raw = true, env = env })
        assert.equal(0, r.code, cli.show(r))
        local second = usage.json.decode(r.out:match("[^\n]+"))
        local first2, last2 = interval.first_allowed_day(later), interval.day_of(later) - 1
        assert.equal(interval.date(last2), second.last, cli.show(r)) -- the process ran a year later
        assert.equal(interval.date(first2), second.first)
        assert.is_true(first2 <= last1 - 2)
        assert.equal(last2 - last1, second.days_added)
        assert.equal(3, second.days_replaced)
        -- what the fake a year later answers (asked from here: its days are ahead of this clock)
        local later_client = H.client(later_fake, { validate = false })
        local api2 = api_daily(later_client, first2, last2)

        -- the store: more than a year, every day whole, each day's totals those of the last answer for it
        s = assert(store.open(target, { readonly = true }))
        finally(function() s:close() end)
        local u = assert(s:usage { first = interval.date(first1), last = interval.date(last2), by = "org" })
        assert.is_true(u.complete)
        assert.is_true(u.days > 366, "spans " .. u.days .. " days")
        assert.equal(u.days, #u.rows)
        local refreshed_from = last1 - 2 -- the second sync fetched the last 3 days of the first again
        for _, row in ipairs(u.rows) do
          local d = interval.parse_date(row.date)
          local want = (d >= refreshed_from and api2 or api1)[row.date] or {}
          for _, c in ipairs(COUNTS) do assert.equal(want[c] or 0, row[c], row.date .. " " .. c) end
        end
        -- the year-old days are past what the fake a year later serves: only the store has them now
        local gone, err = later_client:aggregates({ interval = interval.days_of(first1, first1 + 10).jobs,
                                                    granularity = "Day" }):all()
        assert.is_nil(gone)
        assert.equal(400, err.status)
        -- and the monthly view (plain SQL) covers both years
        local months = B:lines(target, "SELECT month, days_stored FROM monthly_totals ORDER BY month")
        assert.is_true(#months >= 13)
      end)
    end)
  end
end)
