-- The flows engine (usage.flows) on a stand-in port (spec/support/port.lua) and a scripted runtime
-- (spec/support/script.lua): polling and its waits, failures and wrong shapes, every paging rule (nextUri,
-- cursors, loops, empty pages, max_pages, pages too big, pages too long), split intervals, a job read
-- again, query parameters from the flow's options; and a real client's port (its URL rules) on the same
-- runtime. No server; waits are read off the script's clock.

local script = require "support.script"
local port_mod = require "support.port"
local flows = require "usage.flows"
local limits = require "usage.api.limits"
local usage = require "usage"

local F = flows.by_name
local ORIGIN = port_mod.ORIGIN

local function rows(n, from)
  local out = {}
  for k = 1, n do out[k] = { date = "2026-11-01", requestCount = (from or 0) + k } end
  return out
end

local BODY = { interval = usage.interval.days(7).jobs }

local function job_page(entities, next_uri)
  return { data = { queryStatus = "Succeeded", entities = entities, nextUri = next_uri } }
end

describe("usage.flows through a port", function()
  local rt, port
  before_each(function()
    rt = script.use(script.runtime())
    port = port_mod.new()
  end)
  after_each(function() script.restore() end)

  local function run(name, ids, body, opts)
    return flows.run(port, F[name], ids or {}, body, opts or {})
  end

  describe("one answer (query, client_query, client_summary)", function()
    it("submits, then polls: the first wait, doubling up to max_interval, never shorter than a Retry-After", function()
      port:answer({ data = { executionId = "e-1" } },
                  { data = { queryStatus = "Running" } },
                  { data = { queryStatus = "Running" } },
                  { data = { queryStatus = "Running" }, meta = { status = 200, retry_after = 30 } },
                  { data = { queryStatus = "Running" } },
                  { data = { queryStatus = "Running" } },
                  { data = { queryStatus = "Complete", results = { { requests = 5 } } } })
      local data, err = run("query", {}, { interval = "x" })
      assert.is_nil(err, tostring(err))
      assert.equal(5, data.results[1].requests)
      assert.same({ 1, 2, 4, 30, 8, 8 }, rt.sleeps)
      assert.equal("postUsageQuery", port.calls[1].op)
      assert.equal("getUsageQueryExecutionIdResults", port.calls[2].op)
      assert.same({ "e-1" }, port.calls[2].ids)
    end)

    it("a poll timeout: the query's status and id, no wait past the deadline", function()
      port.poll = { interval = 1, max_interval = 8, timeout = 10 }
      port:answer({ data = { executionId = "e-2" } })
      for _ = 1, 20 do port:answer({ data = { queryStatus = "Running" } }) end
      local started = rt.clock
      local _, err = run("query", {}, {})
      assert.equal("poll_timeout", err.code)
      assert.equal("e-2", err.id)
      assert.equal("Running", err.query_status)
      assert.is_true(rt.clock - started <= 10 + 1e-9)
    end)

    it("a failed query: query_failed with the service's reason, or saying the old generation gives none", function()
      port:answer({ data = { executionId = "e-3" } }, { data = { queryStatus = "Failed" } })
      local _, err = run("query", {}, {})
      assert.equal("query_failed", err.code)
      assert.matches("gives no reason", err.message)
      port:answer({ data = { id = "j-1" } }, { data = { queryStatus = "Failed", errorBody = { message = "boom" } } })
      local _, err2 = run("aggregates", {}, BODY, { poll = { interval = 0.5 } }):all()
      assert.equal("query_failed", err2.code)
      assert.matches("boom", err2.message)
      assert.same({ 1, 0.5 }, rt.sleeps) -- (the query's wait, then the job's own poll option over the port's)
    end)

    it("wrong shapes are bad_responses, never raises: a status that is no string, no id, no status", function()
      for _, case in ipairs {
        { { data = { executionId = "e" } }, { data = { queryStatus = 5 } } },
        { { data = { executionId = "" } } },
        { { data = { executionId = "a\nb" } } },
        { { data = {} } },
        { { data = { executionId = "e" } }, { data = { nothing = true } } },
      } do
        port = port_mod.new()
        port:answer((table.unpack or unpack)(case))
        local _, err = run("query", {}, {})
        assert.equal("bad_response", err.code)
      end
    end)

    it("client_summary: its days reach the submit as the query parameter, as the operation sends it", function()
      port:answer({ data = { executionId = "e" } }, { data = { results = {} } })
      assert(run("client_summary", { "client-1" }, nil, { days = "30" }))
      assert.same({ days = "30" }, port.calls[1].query)
      assert.same({ "client-1" }, port.calls[1].ids)
      assert.same({ "e", "client-1" }, port.calls[2].ids) -- (executionId, clientId: the read's order)
    end)
  end)

  describe("pages", function()
    it("nextUri: followed as the server gave it, with the pager's page size; rows in order; the page limits", function()
      port:answer({ data = { id = "j-1" } },
                  job_page(rows(2), "/api/v2/usage/aggregates/query/jobs/j-1/results?cursor=c1&pageSize=999"),
                  job_page(rows(2, 2), ORIGIN .. "/api/v2/usage/aggregates/query/jobs/j-1/results?cursor=c2"),
                  job_page(rows(1, 4)))
      local p = run("aggregates", {}, BODY, { page_size = 500 })
      local all = assert(p:all())
      assert.equal(5, #all)
      assert.equal(5, all[5].requestCount)
      assert.same({ "j-1" }, p.jobs)
      assert.same({ pageSize = "500" }, port.calls[2].query)
      assert.equal(ORIGIN .. "/api/v2/usage/aggregates/query/jobs/j-1/results?cursor=c1&pageSize=500", port.calls[3].url)
      assert.equal(ORIGIN .. "/api/v2/usage/aggregates/query/jobs/j-1/results?cursor=c2&pageSize=500", port.calls[4].url)
      local l = port.calls[2].limits
      assert.equal(limits.PAGE_BYTES + 500 * limits.ROW_BYTES, l.max_size)
      assert.equal(limits.PAGE_VALUES + 500 * limits.ROW_VALUES, l.max_values)
      assert.same({ 1 }, rt.sleeps) -- one wait before the first poll; later pages are read at once
    end)

    it("a nextUri that leads away from the API is not followed", function()
      port:answer({ data = { id = "j" } }, job_page(rows(1), "https://evil.test/api/v2/x"))
      local p = run("aggregates", {}, BODY)
      local _, err = p:all()
      assert.equal("bad_response", err.code)
      assert.matches("leads away", err.message)
    end)

    it("cursors: after= the last cursor, 20,000 rows at most, truncated", function()
      port:answer({ data = { executionId = "s" } },
                  { data = { results = rows(2), cursors = { after = "c1" } } },
                  { data = { results = rows(2, 2) } })
      local p = run("search", {}, {})
      assert.equal(4, #assert(p:all()))
      assert.same({ pageSize = "1000", after = "c1" }, port.calls[3].query)
      assert.equal(limits.SEARCH_CAP, p.cap)
    end)

    it("a cursor seen again ends the pager (cursor_loop); so does a run of empty pages", function()
      port:answer({ data = { executionId = "s" } },
                  { data = { results = rows(1), cursors = { after = "c1" } } },
                  { data = { results = rows(1), cursors = { after = "c2" } } },
                  { data = { results = rows(1), cursors = { after = "c1" } } })
      local _, err = run("search", {}, {}):all()
      assert.equal("cursor_loop", err.code)
      port = port_mod.new()
      port:answer({ data = { executionId = "s" } })
      for i = 1, limits.MAX_EMPTY_PAGES + 5 do port:answer({ data = { results = {}, cursors = { after = "e" .. i } } }) end
      _, err = run("search", {}, {}):all()
      assert.equal("bad_response", err.code)
      assert.matches(limits.MAX_EMPTY_PAGES .. " empty pages", err.message)
    end)

    it("the cursors remembered are the last CURSOR_MEMORY ones; max_pages ends any longer cycle", function()
      local saved = limits.CURSOR_MEMORY
      finally(function() limits.CURSOR_MEMORY = saved end)
      limits.CURSOR_MEMORY = 2
      port:answer({ data = { executionId = "s" } })
      for i = 1, 12 do port:answer({ data = { results = rows(1), cursors = { after = "c" .. (i % 3) } } }) end
      local p = run("search", {}, {}, { max_pages = 7 })
      local all, err = p:all()
      assert.is_nil(all)
      assert.equal("bad_response", err.code)
      assert.matches("max_pages", err.message)
      assert.equal(7, p.row_count) -- the rows of the 7 pages were handed out
    end)

    it("a page too big for the service is asked again at half the size; results too big get advice", function()
      port:answer({ data = { id = "j" } },
                  { err = { status = 400, code = "max.response.size.reached", message = "too big" } },
                  { err = { status = 400, code = "response.entity.too.large", message = "too big" } },
                  job_page(rows(2)))
      local p = run("aggregates", {}, BODY)
      assert.equal(2, #assert(p:all()))
      assert.equal(250, p.page_size)
      assert.same({ "1000", "500", "250" }, { port.calls[2].query.pageSize, port.calls[3].query.pageSize,
                                              port.calls[4].query.pageSize })
      port = port_mod.new()
      port:answer({ data = { executionId = "s" } },
                  { err = { status = 500, code = "max.response.size.reached", message = "over" } })
      local _, err = run("search", {}, {}):all()
      assert.matches(string.format("%d MB", limits.SEARCH_MAX_BYTES / 1048576), err.message)
      assert.truthy(err.advice)
      assert.equal(2, #port.calls)
    end)

    it("more rows than asked for is a bad_response", function()
      port:answer({ data = { id = "j" } }, job_page(rows(3)))
      local _, err = run("aggregates", {}, BODY, { page_size = 2 }):all()
      assert.equal("bad_response", err.code)
      assert.matches("3 rows for a page of 2", err.message)
    end)

    it("job: reads an existing job again, no submit, no wait before the first read", function()
      port:answer(job_page(rows(2)))
      local p = run("client_aggregates", { "client-9" }, nil, { job = "old-job" })
      assert.equal(2, #assert(p:all()))
      assert.equal(1, #port.calls)
      assert.equal("getUsageClientClientIdAggregatesQueryJob", port.calls[1].op)
      assert.same({ "client-9", "old-job" }, port.calls[1].ids)
      assert.same({}, rt.sleeps)
    end)

    it("an interval over 90 days: jobs of at most 90 days, started together, read in date order", function()
      local days = usage.interval.days(200)
      for _ = 1, 6 do -- a job per span, named by its first day; its one page holds that name
        port:answer(function(c)
          if c.body then return { data = { id = "job-" .. c.body.interval:sub(1, 10) } } end
          return job_page({ { date = c.ids[1] } })
        end)
      end
      local p = run("aggregates", {}, { interval = days.jobs, granularity = "Day" })
      local all = assert(p:all())
      assert.equal(3, #p.jobs)
      assert.equal(3, #all)
      local bodies = {}
      for _, call in ipairs(port.calls) do
        if call.body then bodies[#bodies + 1] = call.body.interval end
      end
      table.sort(bodies)
      assert.equal(3, #bodies)
      assert.equal(days.first, bodies[1]:sub(1, 10))
      for i = 2, 3 do assert.is_true(all[i].date > all[i - 1].date, "date order") end
      assert.equal("job-" .. days.first, all[1].date)
    end)
  end)

  describe("a real client's port", function()
    it("locates a nextUri only on the API's origin, under its base path, in no encoding of a way out", function()
      local c = usage.new { base_url = "https://api.example.test/gw", access_token = "t0k3n-0k-value" }
      local from = "https://api.example.test/gw/api/v2/usage/aggregates/query/jobs/j"
      assert.equal("https://api.example.test/gw/api/v2/x?a=1", c.port.locate("/api/v2/x?a=1", from))
      assert.equal("https://api.example.test/gw/api/v2/y", c.port.locate("https://api.example.test/gw/api/v2/y", from))
      for _, bad in ipairs { "https://evil.test/gw/api", "https://api.example.test/gw-evil/x", "//evil.test/x",
                             "https://api.example.test/gw/%2e%2e/x", "https://api.example.test/gw/a%2Fb",
                             "https://u:p@api.example.test/gw/x", "http://api.example.test/gw/x",
                             "https://api.example.test/other" } do
        local url, why = c.port.locate(bad, from)
        assert.is_nil(url, bad)
        assert.truthy(why, bad)
      end
    end)

    it("runs a whole flow in process: the method's checks, the exchange, the port, the pager", function()
      local c = usage.new { base_url = "https://api.example.test", access_token = "t0k3n-0k-value",
                            poll = { interval = 2, max_interval = 4, timeout = 60 } }
      rt:answer({ status = 200, json = { id = "j-7" } },
                { status = 202, json = { queryStatus = "Running" } },
                { status = 200, json = { queryStatus = "Succeeded", entities = rows(2),
                                         nextUri = "/api/v2/usage/aggregates/query/jobs/j-7?cursor=n" } },
                { status = 429, headers = { ["Retry-After"] = "3" } },
                { status = 200, json = { queryStatus = "Succeeded", entities = rows(1, 2) } })
      local all = assert(c:aggregates({ interval = usage.interval.days(7).jobs }, { page_size = 100 }):all())
      assert.equal(3, #all)
      assert.equal("https://api.example.test/api/v2/usage/aggregates/query/jobs/j-7?pageSize=100", rt.requests[2].url)
      assert.equal("https://api.example.test/api/v2/usage/aggregates/query/jobs/j-7?cursor=n&pageSize=100",
                   rt.requests[4].url)
      assert.same({ 2, 4, 3 }, rt.sleeps) -- two polls, then the 429's Retry-After
      assert.equal(1, c:stats().responses_429)
      assert.has_error(function() c:aggregates({ interval = "x" }, { page_size = 1001 }) end)
    end)
  end)
end)
