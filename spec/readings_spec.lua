-- Right under every reading of the service (issue 18, the library's part): jobs planned from the validated
-- body (a granularity in any case cuts on its own boundaries), a flow and its operation accepting exactly
-- the same arguments, old-generation intervals ending at the last included millisecond, the strict reading
-- of the one-year limit (an error naming the first usable day, also when the service still refuses a
-- start), and ISO 8601 as users write it, normalised to UTC.

local H = require "helper"
local usage = require "usage"
local json = require "usage.base.json"
local flows = require "usage.flows"
local limits = require "usage.api.limits"
local operations = require "usage.api.operations"
local params = require "usage.api.params"
local validate = require "usage.api.validate"

local iv = usage.interval
local DAY = 86400

-- a fixed clock: 1 December 2026, 10:00:00 UTC
local NOW = iv.parse_instant("2026-12-01T10:00:00Z")

describe("right under every reading", function()
  local fake
  setup(function() fake = H.start() end)
  teardown(function() if fake then fake:stop() end end)
  before_each(function()
    fake:reset()
  end)

  local function posted_intervals(pattern)
    local out = {}
    for _, e in ipairs(H.requests(fake, pattern, "POST")) do out[#out + 1] = json.decode(e.body).interval end
    return out
  end

  ------------------------------------------------------------------------------------------------
  describe("jobs planned from the validated body", function()
    local last_month = iv.last_month()
    local span = assert(iv.range(iv.date(iv.parse_date(last_month.first) - 200), last_month.last))

    for _, g in ipairs { "month", "MONTH", "Month", "week", "wEEk" } do
      it("granularity " .. g .. " (any case) cuts the jobs on " .. g:lower() .. " boundaries, no bucket twice",
         function()
        local c = H.client(fake)
        local rows, err = c:aggregates({ interval = span.jobs, granularity = g, groupBy = { "OauthClientId" } }):all()
        assert.is_nil(err, tostring(err))
        local ivs = posted_intervals("/aggregates/query/jobs$")
        assert.is_true(#ivs >= 3, #ivs .. " jobs")
        for i, text in ipairs(ivs) do
          local first, last = iv.covered(text, "jobs")
          assert.is_true(last - first + 1 <= limits.MAX_JOB_DAYS)
          if i < #ivs then
            if g:lower() == "month" then
              assert.equal("01", iv.date(last + 1):sub(9, 10), "job " .. i .. " ends inside a month: " .. text)
            else
              assert.equal(0, (last + 1 + 3) % 7, "job " .. i .. " ends inside a week: " .. text) -- next day a Monday
            end
          end
        end
        -- each bucket of each client comes back once (a bucket cut in two would come back twice, partial)
        local seen = {}
        for _, r in ipairs(rows) do
          local key = r.date .. " " .. tostring(r.oauthClient and r.oauthClient.id)
          assert.is_nil(seen[key], "a bucket twice: " .. key)
          seen[key] = true
        end
      end)
    end

    it("flows.plan reads the granularity without case", function()
      local flow = flows.by_name.aggregates
      local a = flows.plan(flow, { interval = span.jobs, granularity = "month" })
      local b = flows.plan(flow, { interval = span.jobs, granularity = "Month" })
      assert.same(b, (function()
        for _, x in ipairs(a) do x.granularity = "Month" end
        return a
      end)())
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("a flow and its operation accept exactly the same arguments", function()
    -- a client whose requests can never reach a server: an accepted call fails at run time (nil, err),
    -- a refused argument raises at once
    local c = usage.new { base_url = "http://127.0.0.1:1", access_token = "t0k3n-0k", retry = false, timeout = 2 }

    local function raises(fn, ...)
      local ok, result = pcall(fn, ...)
      if ok and type(result) == "table" and result.next_page and result.all then
        -- a pager: nothing is sent before the first page
        return false
      end
      return not ok, result
    end

    local BAD_IDS = { false, 5, "", ".", "..", "a\nb", "a\0b", string.rep("x", 2000), "ok-id" }
    local BAD_DAYS = { "1 2", -3.5, 3.5, -1, "-1", "", "x", "1234567", 1e7, 0 / 0, 1 / 0, true, {}, "7", 7, 0, "0",
                       366, "030" }
    local BAD_PAGE = { 0, 1001, 1.5, "10", 0 / 0, 1 / 0, -1, true, 10, 1000, 1 }
    local BAD_BODIES = { false, "x", 5, true, {} }
    local BAD_HEADERS = { "x", { ["Bad Name"] = "x" }, { x = "a\r\nb" }, { authorization = "x" }, { [1] = "x" },
                          { x = 5 }, { ["X-Ok"] = "fine" } }

    local function show(v)
      if type(v) == "string" then return string.format("%q", v) end
      return tostring(v)
    end

    -- call(flow or op, the id, a body, opts) with the arguments in their places
    local function call_with(fn, params, has_body, id, body, opts)
      local args, n = {}, #params
      for i = 1, n do args[i] = id end
      if has_body then
        n = n + 1
        args[n] = body
      end
      n = n + 1
      args[n] = opts
      return raises(fn, c, (table.unpack or unpack)(args, 1, n))
    end
    local function call_flow(flow, id, body, opts)
      return call_with(c[flow.name], flow.params, flow.body, id, body, opts)
    end
    local function call_op(op, id, body, opts)
      return call_with(c[op.name], op.params, op.body, id, body, opts)
    end

    local GOOD_BODY = { interval = H.DAYS }

    -- the bad values of each kind of entry (usage.api.params: an entry's type)
    local BAD = { id = BAD_IDS, digits = BAD_DAYS, integer = BAD_PAGE, headers = BAD_HEADERS }
    -- the flows' own options, which no operation has
    local OWN = { poll = true, on_progress = true, max_pages = true }

    -- the operation of a flow that reads entry e, and where: a query key, a path parameter (its position)
    local function operation_of(flow, e)
      for _, op in ipairs { flow.submit_op, flow.read_op } do
        for q, qe in pairs(op.query) do
          if rawequal(qe, e) then return op, q end
        end
        for i, p in ipairs(op.params) do
          if rawequal(params.entries[p], e) then return op, i end
        end
      end
      if rawequal(e, params.entries.headers) then return flow.submit_op, "headers" end
    end

    for _, flow in ipairs(flows.list) do
      local submit = flow.submit_op
      it(flow.name .. " and " .. submit.name .. " / " .. flow.read_op.name .. ": the same entries", function()
        local checked = 0
        local function same(what, v, a, b)
          checked = checked + 1
          assert.equal(a, b, string.format("%s %s: client:%s %s, the operation %s", what, show(v), flow.name,
                                           a and "raises" or "accepts", b and "raises" or "accepts"))
        end
        -- path parameters: the flow's own are its submit's (one list)
        assert.equal(submit.params, flow.params)
        if #flow.params > 0 then
          for _, v in ipairs(BAD_IDS) do
            same("id", v, call_flow(flow, v or nil, GOOD_BODY, nil), call_op(submit, v or nil, GOOD_BODY, nil))
          end
        end
        -- bodies
        if flow.body then
          for _, v in ipairs(BAD_BODIES) do
            same("body", v, call_flow(flow, "client-1", v or nil, nil), call_op(submit, "client-1", v or nil, nil))
          end
        end
        -- every option: one the flow has of its own, or an entry one of its operations reads (the same
        -- table), given the bad values of its kind in both places
        for key, e in pairs(flow.options) do
          if not OWN[key] then
            local op, where = operation_of(flow, e)
            assert.truthy(op, "client:" .. flow.name .. " option '" .. key .. "' is no entry of its operations")
            local bad = assert(BAD[e.type], e.type)
            for _, v in ipairs(bad) do
              if type(where) == "number" then -- a path parameter of the operation (job: the read's jobId; no body)
                if v then same(key, v, call_flow(flow, "client-1", nil, { [key] = v }), call_op(op, v, nil, nil)) end
              else
                same(key, v, call_flow(flow, "client-1", flow.body and GOOD_BODY or nil, { [key] = v }),
                     call_op(op, "client-1", op.body and GOOD_BODY or nil, { [where] = v }))
              end
            end
          end
        end
        assert.is_true(checked >= #BAD_HEADERS)
      end)
    end

    it("client_summary refuses days = \"1 2\" and -3.5 before sending anything", function()
      for _, v in ipairs { "1 2", -3.5 } do
        local ok, err = pcall(c.client_summary, c, "client-1", { days = v })
        assert.is_false(ok)
        assert.matches("whole number of days", tostring(err))
      end
      assert.is_not_nil(operations.by_name.getOauthClientUsageSummary.query.days)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("old-generation intervals end at the last included millisecond", function()
    it("usage.base.interval's query string counts the same days whether its end is inclusive or exclusive", function()
      for _, d in ipairs { iv.days(7, NOW), iv.yesterday(NOW), assert(iv.month("2026-02", NOW)), iv.last_month(NOW) } do
        assert.matches("T23:59:59%.999Z$", d.query)
        local a, b = iv.parse(d.query)
        -- inclusive: every day from the start's through the end's; exclusive: the days [start, end) touches
        local inclusive_last = iv.day_of(b)
        local exclusive_last = b % DAY == 0 and iv.day_of(b) - 1 or iv.day_of(b)
        assert.equal(d.last_day, inclusive_last)
        assert.equal(d.last_day, exclusive_last)
        assert.equal(d.first_day, iv.day_of(a))
      end
    end)

    it("query, client-query and search are sent that end", function()
      local c = H.client(fake)
      local d = iv.days(3)
      assert(c:query({ interval = d.query }))
      assert(c:client_query(H.HEAVY, { interval = d.query }))
      assert(c:search({ interval = d.query, metrics = { "Date", "Status429" } }):all())
      local sent = posted_intervals("^/api/v2/")
      assert.equal(3, #sent)
      for _, s in ipairs(sent) do assert.equal(d.first .. "T00:00:00Z/" .. d.last .. "T23:59:59.999Z", s) end
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("the one-year limit, read strictly", function()
    it("check_start: a start is allowed from now minus one year as an instant, and names the first day", function()
      assert.is_true(iv.check_start(iv.one_year_ago(NOW), NOW))
      local ok, why, first = iv.check_start(iv.parse_instant("2025-12-01"), NOW) -- midnight, before 10:00
      assert.is_nil(ok)
      assert.equal("2025-12-02", first)
      assert.matches("first whole day it can use is 2025%-12%-02", why)
      assert.is_true(iv.check_start(iv.parse_instant("2025-12-02"), NOW))
      -- the longest span the client can build: from that day through yesterday
      local year = iv.one_year(NOW)
      assert.equal("2025-12-02", year.first)
      assert.equal("2026-11-30", year.last)
      assert.equal(364, year.count)
      assert.is_true(iv.check_start(iv.one_year(iv.parse_instant("2026-12-01T00:00:00Z")).first_day * DAY,
                                    iv.parse_instant("2026-12-01T00:00:00Z"))) -- at midnight: 365 days
      assert.equal(365, iv.one_year(iv.parse_instant("2026-12-01T00:00:00Z")).count)
    end)

    it("validation refuses a job starting a year ago to the day (before now minus a year), naming the day", function()
      local body = { interval = "2025-12-01T00:00:00Z/2026-01-31T23:59:59.999Z" }
      local _, err = validate.body("OrganizationPublicApiUsageQueryRequest", body, { now = NOW })
      assert.equal("validation", err.code)
      assert.equal("2025-12-02", err.first_day)
      assert.matches("2025%-12%-02", err.message)
      assert.is_truthy(validate.body("OrganizationPublicApiUsageQueryRequest",
                                     { interval = "2025-12-02T00:00:00Z/2026-01-31T23:59:59.999Z" }, { now = NOW }))
      -- "--last 365d" at 10:00 is one day too many under the strict reading
      local d = iv.days(365, NOW)
      assert.is_nil(iv.check_start(d.first_day * DAY, NOW))
      assert.is_true(iv.check_start(iv.days(364, NOW).first_day * DAY, NOW))
    end)

    it("a start the service still refuses gives an error naming the first day it can use", function()
      -- the fake's clock runs two days ahead of ours: our first allowed day is too early for it
      fake:config { today = H.day(2) }
      local c = H.client(fake)
      local first = iv.first_allowed_day()
      local body = { interval = iv.date(first) .. "T00:00:00Z/" .. iv.date(first + 10) .. "T23:59:59.999Z" }
      local rows, err = c:aggregates(body):all()
      assert.is_nil(rows)
      assert.equal(400, err.status, tostring(err))
      assert.equal(iv.date(first + 1), err.first_day)
      assert.truthy(tostring(err):find("the first day an aggregates job can start with is " .. err.first_day, 1, true),
                    tostring(err))
      -- and it is the first day the service takes
      local ok, err2 = c:aggregates { interval = err.first_day .. "T00:00:00Z/" .. iv.date(first + 10) ..
                                                "T23:59:59.999Z" }:all()
      assert.is_nil(err2, tostring(err2))
      assert.truthy(ok)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("ISO 8601 as users write it", function()
    local same_instant = {
      "2026-11-03T08:00:00Z", "2026-11-03t08:00:00z", "2026-11-03T09:00:00+01", "2026-11-03T09:00:00+0100",
      "2026-11-03T09:00:00+01:00", "2026-11-03T07:00:00-01:00", "2026-11-03T08:00Z", "2026-11-03T13:30:00+05:30",
      "2026-11-03T08:00:00.000Z", "2026-11-03T08:00:00,000Z",
    }
    it("reads every form of one instant alike, in UTC", function()
      local want = iv.parse_instant("2026-11-03T08:00:00Z")
      for _, s in ipairs(same_instant) do
        local t, why = iv.parse_instant(s)
        assert.equal(want, t, s .. ": " .. tostring(why))
      end
      for _, bad in ipairs { "2026-11-03T08:00:00+1", "2026-11-03T08:00:00+25:00", "2026-11-03 08:00:00Z",
                             "2026-11-03T08:00:00UTC" } do
        assert.is_nil(iv.parse_instant(bad), bad)
      end
    end)

    it("normalises an interval to UTC, and sends it so", function()
      assert.equal("2026-11-03T07:00:00Z/2026-11-04T09:00:00.500Z",
                   iv.normalize("2026-11-03t08:00+01/2026-11-04T10:00:00.5+0100"))
      assert.equal("2026-11-03T00:00:00Z/2026-11-04T23:59:59.999Z",
                   iv.normalize("2026-11-03T00:00:00Z/2026-11-04T23:59:59.999Z")) -- UTC already: as it is
      local c = H.client(fake)
      local a, b = H.day(-9), H.day(-3)
      assert(c:aggregates({ interval = a .. "t01:00:00+01/" .. b .. "T23:59:59.999+00:00" }):all())
      assert(c:query { interval = a .. "T02:00:00+0200/" .. b .. "t23:59:59.999z" })
      local sent = posted_intervals("^/api/v2/")
      assert.same({ a .. "T00:00:00Z/" .. b .. "T23:59:59.999Z", a .. "T00:00:00Z/" .. b .. "T23:59:59.999Z" }, sent)
    end)
  end)
end)
