-- genesys-usage covers whole UTC days (issue #11, the command line's part): what each day flag means,
-- the interval each generation is sent for those days (seen in the fake's request log), the one-year
-- limit of aggregates jobs checked before anything is sent, spans past 90 days split into jobs, and
-- --dry-run, which shows all that and sends nothing.

local H = require "helper"
local support = require "support.cli"
local usage = require "usage"
local json = require "usage.base.json"

local interval = usage.interval
local HEAVY = H.HEAVY

describe("genesys-usage days", function()
  local fake, t

  local fixture = support.with_fake()
  setup(function() fake, t = fixture.start() end)
  teardown(fixture.stop)

  local ok = support.ok

  -- the intervals of the bodies the run POSTed to paths matching pattern
  local function sent(pattern)
    local out = {}
    for _, e in ipairs(H.requests(fake, pattern, "POST")) do out[#out + 1] = json.decode(e.body).interval end
    return out
  end

  -- every command with the arguments it needs, the path it submits to, and its generation
  local COMMANDS = {
    { { "query" }, "^/api/v2/usage/query$", "query" },
    { { "client-query", HEAVY }, "/usage/query$", "query" },
    { { "search", "--metric", "Date,Status429" }, "^/api/v2/usage/simplesearch$", "query" },
    { { "aggregates" }, "^/api/v2/usage/aggregates/query/jobs$", "jobs" },
    { { "client-aggregates", HEAVY }, "/aggregates/query/jobs$", "jobs" },
    { { "report" }, "^/api/v2/usage/aggregates/query/jobs$", "jobs" },
  }

  local function args_of(base, extra)
    local a = {}
    for _, v in ipairs(base) do a[#a + 1] = v end
    for _, v in ipairs(extra) do a[#a + 1] = v end
    a[#a + 1] = "--quiet"
    return a
  end

  it("sends each generation the interval of exactly the days asked for", function()
    local cases = {
      { { "--last", "7d" }, interval.days(7) },
      { { "--last", "2w" }, interval.days(14) },
      { { "--yesterday" }, interval.yesterday() },
      { { "--from", H.day(-20), "--to", H.day(-11) }, interval.range(H.day(-20), H.day(-11)) },
      { { "--from", H.day(-5) }, interval.range(H.day(-5), H.day(-1)) },
      { { "--interval", H.day(-9) .. "/" .. H.day(-3) }, interval.range(H.day(-9), H.day(-3)) },
      { { "--last-month" }, interval.last_month() },
      { { "--month", H.day(-40):sub(1, 7) }, interval.month(H.day(-40):sub(1, 7)) },
    }
    for _, cmd in ipairs(COMMANDS) do
      for _, case in ipairs(cases) do
        fake:clear_log()
        local r = ok(t:run(args_of(cmd[1], case[1])))
        local got = sent(cmd[2])
        assert.is_true(#got >= 1, support.show(r))
        for _, iv in ipairs(got) do
          assert.equal(case[2][cmd[3]], iv, table.concat(r.args, " "))
        end
      end
    end
  end)

  it("--this-month: its complete days, or a usage error on the 1st", function()
    local days, why = interval.this_month()
    fake:clear_log()
    local r = t:run { "aggregates", "--this-month", "--quiet" }
    if days then
      ok(r)
      assert.same({ days.jobs }, sent("/aggregates/query/jobs$"))
    else
      assert.equal(2, r.code)
      assert.truthy(r.err:find(why, 1, true), r.err)
    end
  end)

  it("--interval with instants counts the whole UTC days they touch, and says so", function()
    local a, b = H.day(-6) .. "T08:30:00Z", H.day(-4) .. "T09:00:00Z"
    fake:clear_log()
    local r = ok(t:run { "aggregates", "--interval", a .. "/" .. b, "--format", "csv", "--verbose" })
    local days = interval.range(H.day(-6), H.day(-4))
    assert.same({ days.jobs }, sent("/aggregates/query/jobs$"))
    assert.truthy(r.err:find("counts whole UTC days: " .. days.label, 1, true), r.err)
    -- an end at 00:00 leaves its day out (the days [START, END) touches)
    fake:clear_log()
    ok(t:run { "query", "--interval", H.day(-6) .. "T00:00:00Z/" .. H.day(-4) .. "T00:00:00Z", "--quiet" })
    assert.same({ interval.range(H.day(-6), H.day(-5)).query }, sent("^/api/v2/usage/query$"))
  end)

  it("refuses hours and minutes for every command, saying why, and days not over yet", function()
    for _, cmd in ipairs(COMMANDS) do
      for _, v in ipairs { "24h", "90m", "3600s" } do
        fake:clear_log()
        local r = t:run(args_of(cmd[1], { "--last", v }))
        assert.equal(2, r.code, support.show(r))
        assert.truthy(r.err:find("whole UTC days", 1, true), r.err)
        assert.equal(0, #fake:log())
      end
    end
    local today = os.date("!%Y-%m-%d")
    for _, extra in ipairs { { "--from", H.day(-3), "--to", today }, { "--interval", H.day(-3) .. "/" .. today },
                             { "--month", today:sub(1, 7) .. "x" } } do
      local r = t:run(args_of({ "query" }, extra))
      assert.equal(2, r.code, support.show(r))
    end
    local r = t:run { "query", "--from", H.day(-3), "--to", today }
    assert.truthy(r.err:find("not over yet", 1, true), r.err)
  end)

  it("refuses an aggregates start more than a year ago before sending anything, naming the limit", function()
    local from = H.day(-400)
    for _, cmd in ipairs(COMMANDS) do
      fake:clear_log()
      local r = t:run(args_of(cmd[1], { "--from", from, "--to", H.day(-300) }))
      if cmd[3] == "jobs" then
        assert.equal(2, r.code, support.show(r))
        assert.truthy(support.one_line(r.err), r.err)
        assert.truthy(r.err:find("the first day it can use is " ..
                                 interval.date(interval.first_allowed_day()), 1, true), r.err)
        assert.equal(0, #fake:log()) -- not even a login
      else
        ok(r) -- the old generation has no such limit
      end
    end
  end)

  it("refuses a span of more than 100 years (a mistyped year), with the store too, before anything else", function()
    for _, cmd in ipairs(COMMANDS) do
      fake:clear_log()
      local r = t:run(args_of(cmd[1], { "--from", "0001-01-01", "--to", "2026-11-30" }))
      assert.equal(2, r.code, support.show(r))
      assert.truthy(support.one_line(r.err), r.err)
      assert.truthy(r.err:find("more days than a command reads at once (36,525, 100 years)", 1, true), r.err)
      assert.equal(0, #fake:log())
    end
    for _, cmd in ipairs { "report", "aggregates" } do
      local r = t:run { cmd, "--store", t:path("none.sqlite3"), "--from", "0001-01-01", "--quiet" }
      assert.equal(2, r.code, support.show(r))
      assert.truthy(r.err:find("more days than a command reads at once", 1, true), r.err)
    end
    -- 100 years are read (an old-generation query has no one-year limit; --dry-run: the fake serves less)
    local r = ok(t:run(args_of({ "query" }, { "--from", "1926-12-06", "--to", "2026-11-30", "--dry-run" })))
    assert.truthy(r.out:find("1926-12-06", 1, true), r.out)
  end)

  it("splits a span past 90 days into jobs, says so, and streams every day once in date order", function()
    fake:clear_log()
    local r = ok(t:run { "aggregates", "--last", "180d", "--group-by", "OauthClientId", "--metric", "Requests",
                         "--format", "ndjson", "--verbose" })
    local bodies = sent("/aggregates/query/jobs$")
    assert.equal(2, #bodies, support.show(r))
    assert.truthy(r.err:find("180 days are read as 2 jobs of at most 90 days", 1, true), r.err)
    assert.equal(2, select(2, r.err:gsub("job [%w%-]+ started", "")))
    local days, seen, prev = interval.days(180), {}, ""
    for line in r.out:gmatch("[^\n]+") do
      local row = json.decode(line)
      assert.is_true(row.date >= prev, "out of order: " .. row.date .. " after " .. prev)
      prev = row.date
      local key = row.date .. " " .. row.oauthClientId
      assert.is_nil(seen[key], "twice: " .. key)
      seen[key] = true
    end
    local dates = {}
    for key in pairs(seen) do dates[key:sub(1, 10)] = true end
    for d = days.first_day, days.last_day do assert.truthy(dates[interval.date(d)], "missing " .. interval.date(d)) end
  end)

  describe("--dry-run", function()
    it("prints every request with its JSON body and the days, and sends nothing, not even a login", function()
      fake:clear_log()
      local r = ok(t:run { "aggregates", "--last", "180d", "--group-by", "OauthClientId", "--dry-run" })
      assert.equal(0, #fake:log(), "the dry run sent something")
      local days = interval.days(180)
      assert.truthy(r.out:find("# days: " .. days.label .. " (UTC, 180 days)", 1, true), r.out)
      assert.truthy(r.out:find("POST " .. fake.base_url .. "/oauth/token", 1, true), r.out)
      assert.is_nil(r.out:find("demo-secret", 1, true))
      local bodies = {}
      for b in r.out:gmatch("POST /api/v2/usage/aggregates/query/jobs\n([^\n]+)") do bodies[#bodies + 1] = json.decode(b) end
      assert.equal(2, #bodies)
      -- the two jobs cover the 180 days exactly, in order, at most 90 days each (worked out here, not by the
      -- planner the command uses)
      local function day_number(ymd) -- days since 1970-01-01 of "yyyy-mm-dd..."
        local y, m, d = ymd:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
        y, m, d = tonumber(y), tonumber(m), tonumber(d)
        if m <= 2 then y = y - 1 end
        local era = math.floor(y / 400)
        local yoe = y - era * 400
        local doy = math.floor((153 * (m > 2 and m - 3 or m + 9) + 2) / 5) + d - 1
        return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
      end
      local spans = {}
      for i, b in ipairs(bodies) do
        local a, z = b.interval:match("^([^/]+)/([^/]+)$")
        spans[i] = { day_number(a), day_number(z) }
        assert.is_true(spans[i][2] - spans[i][1] + 1 <= 90, b.interval)
      end
      assert.equal(day_number(days.first), spans[1][1])
      assert.equal(spans[1][2] + 1, spans[2][1])
      assert.equal(day_number(days.last), spans[2][2])
      assert.truthy(r.out:find("GET /api/v2/usage/aggregates/query/jobs/{jobId}?pageSize=1000", 1, true))
    end)

    it("for every command, without credentials too", function()
      for _, cmd in ipairs(COMMANDS) do
        fake:clear_log()
        local r = ok(t:run(args_of(cmd[1], { "--last", "3d", "--dry-run" }),
                           { env = { GENESYSCLOUD_OAUTHCLIENT_ID = false, GENESYSCLOUD_OAUTHCLIENT_SECRET = false } }))
        assert.truthy(r.out:find("credentials: none found", 1, true), r.out)
        assert.truthy(r.out:find(interval.days(3)[cmd[3]], 1, true), r.out)
        assert.equal(0, #fake:log())
      end
      for _, extra in ipairs { { "summary", HEAVY, "--last", "3d" }, { "metrics" }, { "aggregates", "--job", "j-1" } } do
        extra[#extra + 1] = "--dry-run"
        local r = ok(t:run(extra))
        assert.truthy(r.out:find("\nGET /api/v2/", 1, true), r.out)
      end
      assert.equal(0, #fake:log())
    end)
  end)
end)
