-- genesys-usage over a hostile history store: a SQLite file written by something else than this library
-- (by hand, by another program, by an attacker who can write the file), read by report, aggregates,
-- metrics and forecast with --store in every format. What the library never writes must never become a
-- figure: a usage row whose client or endpoint key names nothing (SQLite enforces no foreign key: it was an
-- internal error), a negative count (it was summed: a report of -19,138,458 requests, exit 0), a day that
-- is no date ('2026-12-00' sorts inside the span as text: its rows were in the totals, in no day of the
-- daily series). Each is one line on stderr, exit 1 (a plugin: one UNKNOWN line, exit 3), nothing on stdout.
-- And an allowance of 2^53 or more is refused saying so (it said "above 0"); sync into a store marking a day
-- that is no date stored: one line, exit 1 (an internal error), no sync row left running.

local cli = require "support.cli"
local stores = require "support.store"
local store = require "usage.store"
local interval = require "usage.base.interval"

local DAY = 86400
local today = math.floor(os.time() / DAY)
local first, last = today - 70, today - 1

-- a runner and a started backend (1 SQLite, 2 PostgreSQL) for a describe; fill(name) -> a new store
-- target holding org acme's days first..last, as a sync of the library leaves them
local function fixture(index)
  local f = {}
  function f.start()
    f.t = cli.new {}
    f.B = stores.backends()[index]
    f.B:start()
  end
  function f.stop()
    if f.t then f.t:cleanup() end
    if f.B then f.B:stop() end
  end
  function f.fill(name)
    local target = f.B:target(name)
    local s = assert(store.open(target))
    assert(s:put("acme", interval.date(first), interval.date(last), stores.rows_for(first, last, { clients = 3, uris = 2 })))
    s:close()
    return target
  end
  return f
end

describe("a hostile history store #integration", function()
  local t, B, base
  local f = fixture(1)
  lazy_setup(function()
    f.start()
    t, B = f.t, f.B
    base = f.fill("base")
  end)
  lazy_teardown(function() f.stop() end)

  -- a copy of the good store, changed by plain SQL (outside the library)
  local function hostile(name, sql)
    local target = B:target(name)
    B:shell(base, "VACUUM INTO '" .. target .. "'")
    B:shell(target, sql)
    return target
  end

  -- the reading commands over target, each in every format
  local function runs(target)
    local out = {}
    local function add(args) out[#out + 1] = args end
    for _, f in ipairs { "table", "csv", "json", "ndjson", "html", "svg" } do
      add { "report", "--store", target, "--last", "30d", "-f", f }
    end
    add { "report", "--store", target, "--last", "7d", "--compare", "previous-period", "-f", "json" }
    add { "report", "--store", target, "--last", "7d", "--by", "org" }
    for _, f in ipairs { "table", "json" } do
      add { "aggregates", "--store", target, "--last", "30d", "--group-by", "OauthClientId,TemplateUri", "-f", f }
    end
    add { "metrics", "--store", target }
    for _, f in ipairs { "text", "json", "plugin" } do
      add { "forecast", "--store", target, "--org", "acme", "--allowance", "1000000000000", "-f", f }
    end
    return out
  end

  local function refused(target, pattern, skip)
    for _, args in ipairs(runs(target)) do
      if not (skip and skip(args)) then
        local r = t:run(args)
        r.args = args
        assert.is_true(cli.no_trace(r), cli.show(r))
        if args[#args] == "plugin" then
          assert.equal(3, r.code, cli.show(r))
          assert.truthy(r.out:match("^GENESYS USAGE UNKNOWN %- [^\n]*" .. pattern .. "[^\n]*\n$"), cli.show(r))
          assert.equal("", r.err, cli.show(r))
        else
          assert.equal(1, r.code, cli.show(r))
          assert.equal("", r.out, cli.show(r))
          assert.is_true(cli.one_line(r.err), cli.show(r))
          assert.truthy(r.err:find(pattern), cli.show(r))
        end
      end
    end
  end

  it("reads the good store in every format (the baseline)", function()
    for _, args in ipairs(runs(base)) do
      local r = t:run(args)
      r.args = args
      -- a plugin: OK, or UNKNOWN on the 1st of a month (no whole day of the month yet)
      if args[#args] == "plugin" then
        assert.truthy(r.code == 0 or r.code == 3, cli.show(r))
      else
        assert.equal(0, r.code, cli.show(r))
      end
      assert.is_true(cli.no_trace(r), cli.show(r))
    end
  end)

  it("says why an allowance of 2^63-1 is refused (it said 'above 0')", function()
    for _, v in ipairs { "9223372036854775807", "9007199254740992", "99999999999999999999999" } do
      local r = t:run { "forecast", "--store", base, "--org", "acme", "--allowance", v, "-f", "plugin" }
      r.args = { "forecast", "--allowance", v }
      assert.equal(3, r.code, cli.show(r))
      assert.truthy(r.out:match("^GENESYS USAGE UNKNOWN %- [^\n]*below 2%^53 %(9,007,199,254,740,992%), got " .. v ..
                                "[^\n]*\n$"), cli.show(r))
      r = t:run { "report", "--store", base, "--last", "7d", "-f", "html", "--allowance", v }
      assert.equal(2, r.code, cli.show(r))
      assert.truthy(r.err:find("below 2^53", 1, true), cli.show(r))
    end
    local r = t:run { "forecast", "--store", base, "--org", "acme", "--allowance", "9007199254740991", "-f", "json" }
    assert.equal(0, r.code, cli.show(r))
  end)

  it("refuses usage rows of a client or an endpoint the store does not name (was an internal error)", function()
    local no_client = hostile("no_client", "DELETE FROM clients WHERE client_key = 1")
    -- the commands that read clients: every one but aggregates grouped without them and the forecast of
    -- the org (by day and client: it reads them)
    refused(no_client, "client key 1, which its clients table lacks")
    local no_endpoint = hostile("no_endpoint", "DELETE FROM endpoints WHERE endpoint_key = 1")
    -- metrics and the forecast read no endpoint
    refused(no_endpoint, "endpoint key 1, which its endpoints table lacks",
            function(args) return args[1] == "metrics" or args[1] == "forecast" end)
  end)

  it("refuses a negative count (it was summed into the totals, exit 0)", function()
    local target = hostile("negative", "UPDATE usage_rows SET requests = -5000000 WHERE day = '" ..
                           interval.date(last) .. "'")
    refused(target, "negative count")
    -- one negative row hidden in a positive sum too
    local one = hostile("negative_one", "UPDATE usage_rows SET status429 = -1 WHERE day = '" ..
                        interval.date(last) .. "' AND client_key = 3")
    refused(one, "negative count")
  end)

  it("refuses rows of a day that is no date inside the span (they were in the totals, in no day)", function()
    local bad = interval.date(last):sub(1, 8) .. "00" -- sorts after the first day and before the last, as text
    local target = hostile("bad_day", "UPDATE usage_rows SET day = '" .. bad .. "' WHERE day = '" ..
                           interval.date(last) .. "'; UPDATE stored_days SET day = '" .. bad .. "' WHERE day = '" ..
                           interval.date(last) .. "'")
    -- metrics reads yesterday and this month (from the 1st): the day '...-00' is in neither
    refused(target, "a day that is not a date", function(args) return args[1] == "metrics" end)
  end)
end)

describe("a hostile history store in PostgreSQL #integration", function()
  local t, B
  local f = fixture(2)
  lazy_setup(function()
    f.start()
    t, B = f.t, f.B
  end)
  lazy_teardown(function() f.stop() end)

  it("refuses a negative count as SQLite does (it was summed)", function()
    local target = f.fill("negative")
    local r = t:run { "report", "--store", target, "--last", "30d", "-f", "json" }
    r.args = { "report", "--last", "30d", "-f", "json" }
    assert.equal(0, r.code, cli.show(r))
    B:shell(target, "UPDATE usage_rows SET requests = -5000000 WHERE day = '" .. interval.date(last) .. "'")
    for _, args in ipairs { { "report", "--store", target, "--last", "30d", "-f", "json" },
                            { "forecast", "--store", target, "--org", "acme", "--allowance", "1000000000000" } } do
      r = t:run(args)
      r.args = args
      assert.equal(1, r.code, cli.show(r))
      assert.equal("", r.out, cli.show(r))
      assert.is_true(cli.one_line(r.err), cli.show(r))
      assert.truthy(r.err:find("negative count", 1, true), cli.show(r))
    end
  end)
end)

describe("sync into a hostile history store #integration", function()
  local fixture = cli.with_fake()
  local t
  lazy_setup(function() t = select(2, fixture.start()) end)
  lazy_teardown(function() fixture.stop() end)

  it("refuses a stored day that is no date (it was an internal error); the store unchanged", function()
    local path = t:path("bad_day.sqlite3")
    local r = t:run { "sync", "--store", path, "--org", "acme", "--poll-interval", "0.01" }
    assert.equal(0, r.code, cli.show(r))
    local bad = os.date("!%Y-%m", os.time() - 20 * DAY) .. "-45" -- inside the window, as text
    local B = stores.backends()[1]
    B:shell(path, "INSERT INTO stored_days(org_key, day, row_count, stored_at, sync_id) VALUES (1, '" .. bad ..
                  "', 0, 'x', 1)")
    local before = B:shell(path, "SELECT count(*), max(sync_id) FROM syncs")
    r = t:run { "sync", "--store", path, "--org", "acme", "--poll-interval", "0.01" }
    r.args = { "sync", "--org", "acme" }
    assert.equal(1, r.code, cli.show(r))
    assert.is_true(cli.no_trace(r), cli.show(r))
    assert.is_true(cli.one_line(r.err), cli.show(r))
    assert.truthy(r.err:find("the day '" .. bad .. "' of org acme stored, which is not a date", 1, true), cli.show(r))
    assert.equal(before, B:shell(path, "SELECT count(*), max(sync_id) FROM syncs"))
    assert.equal("0\n", B:shell(path, "SELECT count(*) FROM sync_lock"))
  end)
end)
