-- Flows against the fake cloud: submit-then-poll, paging, failures, deadlines, caps, faults in the
-- middle of paging, gather and the client-side rate limit.
local H = require "helper"
local usage = require "usage"
local json = require "usage.base.json"
local core = require "usage.core"

local function keys_of(rows)
  local out = {}
  for i, row in ipairs(rows) do out[i] = json.encode(row) end
  return out
end

describe("flows", function()
  local fake

  setup(function()
    fake = H.start()
  end)

  teardown(function()
    if fake then fake:stop() end
  end)

  before_each(function()
    fake:reset()
  end)

  describe("old generation (submit, poll until Complete)", function()
    it("query polls Running until Complete and returns the result", function()
      fake:config { lifecycle = { polls = 2 } }
      local c = H.client(fake)
      local states = {}
      local result, err = c:query({ interval = H.I, groupBy = { "OAuthClientId" } },
        { on_progress = function(s) states[#states + 1] = s end })
      assert.is_nil(err)
      assert.equal("Complete", result.queryStatus)
      assert.is_true(#result.results > 0)
      assert.equal(3, #H.requests(fake, "/results$"))
      -- first the submission (with the execution id, for a caller that prints it), then each poll
      assert.same({ "submitted", "Running", "Running", "Complete" },
                  { states[1].state, states[2].state, states[3].state, states[4].state })
      assert.equal(3, states[4].polls)
      assert.is_string(states[1].id)
    end)

    it("client_query and client_summary reach Complete", function()
      fake:config { lifecycle = { polls = 1 } }
      local c = H.client(fake)
      local r1 = assert(c:client_query(H.ACME, { interval = H.I, granularity = "Day" }))
      assert.equal("Complete", r1.queryStatus)
      assert.is_true(#r1.results > 0)
      local r2 = assert(c:client_summary(H.ACME, { days = 7 }))
      assert.equal("Complete", r2.queryStatus)
      assert.equal("days=7", H.requests(fake, "/summary$")[1].query)
    end)

    it("waits interval first, then doubles up to max_interval", function()
      fake:config { lifecycle = { polls = 4 } }
      local c = H.client(fake, { poll = { interval = 0.1, max_interval = 0.25, timeout = 10 } })
      assert(c:query { interval = H.I })
      local post = H.requests(fake, "/usage/query$")[1]
      local gets = H.requests(fake, "/results$")
      assert.equal(5, #gets)
      local waits = { gets[1].time - post.time }
      for i = 2, #gets do waits[i] = gets[i].time - gets[i - 1].time end
      local expected = { 0.1, 0.2, 0.25, 0.25, 0.25 }
      for i, w in ipairs(expected) do
        assert.is_true(waits[i] >= w - 0.01 and waits[i] < w + 0.15, "wait " .. i .. " was " .. waits[i])
      end
    end)

    it("compares statuses case-insensitively and waits through unknown ones", function()
      fake:config { lifecycle = { polls = 1 }, status_case = "upper" }
      local c = H.client(fake)
      local r = assert(c:query { interval = H.I })
      assert.equal("COMPLETE", r.queryStatus)
      fake:reset()
      fake:config { lifecycle = { polls = 0 } }
      fake:fault { fault = "unknown_status", status = "Pending", count = 2, match = { path = "/results$" } }
      r = assert(c:query { interval = H.I })
      assert.equal("Complete", r.queryStatus)
      assert.equal(3, #H.requests(fake, "/results$"))
    end)

    it("ends a Failed query with query_failed", function()
      fake:config { lifecycle = { polls = 1 } }
      fake:fault { fault = "job_failed" }
      local c = H.client(fake)
      local r, err = c:query { interval = H.I }
      assert.is_nil(r)
      assert.equal("query_failed", err.code)
      assert.equal("Failed", err.query_status)
      assert.matches("Failed", tostring(err))
    end)

    it("ends with poll_timeout at the deadline", function()
      fake:config { lifecycle = { seconds = 30 } }
      local c = H.client(fake, { poll = { interval = 0.05, max_interval = 0.1, timeout = 0.5 } })
      local elapsed, r, err = H.timed(function() return c:query { interval = H.I } end)
      assert.is_nil(r)
      assert.equal("poll_timeout", err.code)
      assert.equal("Running", err.query_status)
      assert.is_true(elapsed >= 0.5)
      -- it stopped at the deadline: a few polls 0.05-0.1 s apart, not the 30 s of the query
      local polls = #H.requests(fake, "/results$")
      assert.is_true(polls >= 3 and polls <= 12, polls .. " polls")
    end)

    it("takes per-call poll options", function()
      fake:config { lifecycle = { seconds = 30 } }
      local c = H.client(fake)
      local _, err = c:query({ interval = H.I }, { poll = { timeout = 0.2 } })
      assert.equal("poll_timeout", err.code)
      assert.has_error(function() c:query({ interval = H.I }, { poll = { every = 1 } }) end)
      assert.has_error(function() c:query({ interval = H.I }, { pages = 1 }) end)
    end)

    it("honours Retry-After between polls", function()
      fake:config { lifecycle = { polls = 0 } }
      fake:fault { fault = "status", status = 429, retry_after = 1, match = { path = "/results$" } }
      local c = H.client(fake)
      local elapsed, r = H.timed(function() return c:query { interval = H.I } end)
      assert.equal("Complete", r.queryStatus)
      assert.is_true(elapsed >= 1)
    end)
  end)

  describe("new generation (jobs)", function()
    it("aggregates goes Queued, Running, Succeeded and streams every page", function()
      fake:config { lifecycle = { polls = 2 } }
      local c = H.client(fake)
      local states = {}
      local pager = c:aggregates({ interval = H.DAYS, groupBy = { "OauthClientId", "TemplateUri" } },
        { page_size = 100, on_progress = function(s) states[#states + 1] = s.state end })
      local n = 0
      for row in pager:rows() do
        n = n + 1
        assert.is_true(H.is_integer(row.requestCount))
      end
      assert.is_true(n > 100)
      assert.equal(n, pager.row_count)
      assert.equal(math.ceil(n / 100), pager.page_count)
      assert.equal("done", pager.state)
      assert.equal("submitted", states[1])
      assert.equal("Queued", states[2])
      assert.equal("Running", states[3])
      assert.equal("Succeeded", states[4])
      -- every page read once, with the cursor of the previous nextUri
      local gets = H.requests(fake, "/aggregates/query/jobs/")
      assert.equal(2 + pager.page_count, #gets)
      assert.is_nil(gets[3].query:find("after="))
      assert.matches("after=", gets[4].query)
      assert.matches("pageSize=100", gets[4].query)
    end)

    it("pages(), rows() and all() give the same rows", function()
      fake:config { lifecycle = { polls = 0 } }
      local c = H.client(fake)
      local body = { interval = H.DAYS, groupBy = { "OauthClientId" }, granularity = "Day" }
      local all = assert(c:aggregates(body, { page_size = 50 }):all())
      local from_pages = {}
      for page in c:aggregates(body, { page_size = 50 }):pages() do
        assert.is_true(#page <= 50)
        for _, r in ipairs(page) do from_pages[#from_pages + 1] = r end
      end
      assert.same(keys_of(all), keys_of(from_pages))
    end)

    it("client_aggregates pages the client-scoped job", function()
      fake:config { lifecycle = { polls = 1 } }
      local c = H.client(fake)
      local rows = assert(c:client_aggregates(H.HEAVY, { interval = H.DAYS, groupBy = { "OrganizationId" } }):all())
      assert.is_true(#rows > 0)
      for _, r in ipairs(rows) do assert.is_string(r.organizationId) end
    end)

    it("ends Failed and Cancelled jobs with query_failed and the errorBody", function()
      fake:config { lifecycle = { polls = 1 } }
      local c = H.client(fake)
      fake:fault { fault = "job_failed" }
      local rows, err = c:aggregates({ interval = H.DAYS }):all()
      assert.is_nil(rows)
      assert.equal("query_failed", err.code)
      assert.equal("Failed", err.query_status)
      assert.is_table(err.body)
      assert.is_string(err.body.message)
      fake:fault { fault = "job_cancelled" }
      rows, err = c:aggregates({ interval = H.DAYS }):all()
      assert.equal("Cancelled", err.query_status)
      fake:fault { fault = "job_failed", error_body = false }
      rows, err = c:aggregates({ interval = H.DAYS }):all()
      assert.equal("query_failed", err.code)
      assert.is_nil(err.body)
    end)

    it("raises the err table from rows() and pages() on failure", function()
      fake:config { lifecycle = { polls = 0 } }
      local c = H.client(fake)
      fake:fault { fault = "job_failed" }
      local ok, err = pcall(function() for _ in c:aggregates({ interval = H.DAYS }):rows() do end end)
      assert.is_false(ok)
      assert.is_true(usage.is_error(err))
      assert.equal("query_failed", err.code)
      fake:fault { fault = "job_failed" }
      ok, err = pcall(function() for _ in c:aggregates({ interval = H.DAYS }):pages() do end end)
      assert.is_false(ok)
      assert.equal("query_failed", err.code)
    end)

    it("recovers from faults in the middle of paging with no lost or duplicated row", function()
      fake:config { lifecycle = { polls = 0 }, result_rows = 1000 }
      local c = H.client(fake)
      local body = { interval = H.DAYS, groupBy = { "OauthClientId", "TemplateUri" } }
      local clean = assert(c:aggregates(body, { page_size = 100 }):all())
      assert.equal(1000, #clean)
      local faults = { { fault = "status", status = 429, retry_after = 0 }, { fault = "status", status = 503 },
                       { fault = "drop" }, { fault = "truncated" }, { fault = "malformed" } }
      local got, page_no = {}, 0
      for page in c:aggregates(body, { page_size = 100 }):pages() do
        page_no = page_no + 1
        local f = faults[page_no]
        if f then
          f.match = { path = "/aggregates/query/jobs/" }
          fake:fault(f) -- hits the next page's request
        end
        for _, r in ipairs(page) do got[#got + 1] = r end
      end
      assert.same(keys_of(clean), keys_of(got))
      local hit = 0
      for _, e in ipairs(fake:log()) do if e.fault then hit = hit + 1 end end
      assert.equal(#faults, hit)
    end)

    it("fails mid-way with nil, err from all() when retries cannot help", function()
      fake:config { lifecycle = { polls = 0 }, result_rows = 300 }
      local c = H.client(fake)
      local pager = c:aggregates({ interval = H.DAYS }, { page_size = 100 })
      local first = assert(pager:next_page())
      assert.equal(100, #first)
      fake:fault { fault = "status", status = 500, count = -1, match = { path = "/aggregates/query/jobs/" } }
      local rows, err = pager:all()
      assert.is_nil(rows)
      assert.equal(500, err.status)
      assert.equal("failed", pager.state)
      assert.equal(err, select(2, pager:next_page())) -- stays failed
    end)

    it("holds at most one page in memory while streaming rows", function()
      fake:config { lifecycle = { polls = 0 }, result_rows = 600 }
      local c = H.client(fake)
      local pager = c:aggregates({ interval = H.DAYS }, { page_size = 100 })
      local live = setmetatable({}, { __mode = "k" })
      local next_page = pager.next_page
      pager.next_page = function(self)
        local page, err = next_page(self)
        if page then live[page] = true end
        return page, err
      end
      local n = 0
      for _ in pager:rows() do
        n = n + 1
        if n % 100 == 50 then
          collectgarbage()
          collectgarbage()
          local alive = 0
          for _ in pairs(live) do alive = alive + 1 end
          assert.is_true(alive <= 1, alive .. " pages alive")
        end
      end
      assert.equal(600, n)
    end)
  end)

  describe("simple search", function()
    it("follows cursors.after to the end", function()
      fake:config { lifecycle = { polls = 1 } }
      local c = H.client(fake)
      local pager = c:search({ interval = H.I, httpMethods = { "POST" } }, { page_size = 50 })
      local rows = assert(pager:all())
      assert.is_true(#rows > 100)
      assert.is_false(pager.truncated)
      for _, r in ipairs(rows) do assert.equal("POST", r.httpMethod) end
      local gets = H.requests(fake, "/simplesearch/.*/results$")
      assert.equal(1 + pager.page_count, #gets)
    end)

    it("stops at the API's 20,000-row cap and says so", function()
      fake:config { lifecycle = { polls = 0 }, result_rows = 25000 }
      local c = H.client(fake)
      -- three columns: 25,000 rows stay under the service's 5 MB of results (more would be a 500)
      local pager = c:search({ interval = H.I, metrics = { "Date", "ClientName", "Status200" } }, { page_size = 1000 })
      local n = 0
      for _ in pager:rows() do n = n + 1 end
      assert.equal(20000, n)
      assert.is_true(pager.truncated)
      assert.equal(20, pager.page_count)
    end)
  end)

  describe("the documented API's edges (#11)", function()
    local function agg_rows(c, opts)
      local pager = c:aggregates({ interval = H.DAYS, groupBy = { "OauthClientId", "TemplateUri" } }, opts)
      local rows, err = pager:all()
      return rows, err, pager
    end

    local function same_rows(a, b)
      assert.equal(#a, #b)
      for i = 1, #a do
        assert.equal(a[i].date, b[i].date)
        assert.equal(a[i].templateUri, b[i].templateUri)
        assert.equal(a[i].requestCount, b[i].requestCount)
      end
    end

    it("follows nextUri as given, in every style the fake hands out, to the same rows", function()
      local c = H.client(fake)
      local reference = assert(agg_rows(c, { page_size = 100 }))
      assert.is_true(#reference > 300)
      for _, style in ipairs { "absolute", "opaque" } do
        fake:reset()
        fake:config { next_uri = style }
        local rows, err, pager = agg_rows(c, { page_size = 100 })
        assert.is_nil(err, style .. ": " .. tostring(err))
        same_rows(reference, rows)
        assert.equal(math.ceil(#rows / 100), pager.page_count)
        local gets = H.requests(fake, "/aggregates/query/jobs/", "GET")
        if style == "opaque" then -- no after= at all: the client did not build the URL itself
          assert.matches("page=", gets[#gets].query)
          assert.is_nil(gets[#gets].query:find("after=", 1, true))
        end
      end
    end)

    it("shrinks the page size when a page is too big, losing and repeating nothing", function()
      local c = H.client(fake)
      local reference = assert(agg_rows(c, { page_size = 1000 }))
      fake:reset()
      fake:config { max_response_bytes = 40000 }
      local rows, err, pager = agg_rows(c, { page_size = 1000 })
      assert.is_nil(err, tostring(err))
      same_rows(reference, rows)
      assert.is_true(pager.page_size < 1000)
      local sizes = {}
      for _, e in ipairs(H.requests(fake, "/aggregates/query/jobs/", "GET")) do
        sizes[#sizes + 1] = tonumber(e.query:match("pageSize=(%d+)"))
      end
      assert.equal(1000, sizes[1])
      assert.equal(pager.page_size, sizes[#sizes])
      -- simple search answers the old generation's code, and shrinks the same way
      local full = assert(c:search({ interval = H.I }, { page_size = 1000 }):all())
      local search = c:search({ interval = H.I }, { page_size = 1000 })
      local got = assert(search:all())
      assert.equal(#full, #got)
      assert.is_true(search.page_size < 1000)
    end)

    it("neither retries nor shrinks a simple search over the service's 5 MB (500): says what to do instead", function()
      fake:config { search_max_bytes = 2000, lifecycle = { polls = 1 } } -- a week of rows is far more
      local c = H.client(fake) -- retries on
      local search = c:search({ interval = H.I }, { page_size = 1000 })
      local rows, err = search:all()
      assert.is_nil(rows)
      assert.equal(500, err.status)
      assert.equal("max.response.size.reached", err.code)
      assert.matches("smaller interval or add filters", err.advice, 1, true)
      assert.matches("whatever the page size", tostring(err), 1, true)
      assert.matches("smaller date interval", err.message, 1, true) -- the service's own words stay
      assert.equal(1000, search.page_size)
      local gets = H.requests(fake, "/simplesearch/[^/]+/results$", "GET")
      assert.equal(2, #gets) -- Running, then the 500: no retry, no smaller page
      assert.equal(500, gets[2].status)
      for _, e in ipairs(gets) do assert.equal("pageSize=1000", e.query) end
    end)

    it("reports query.error (500) on simple search results once, with a clear error", function()
      fake:config { lifecycle = { polls = 0 } }
      fake:fault { fault = "query_error", count = 3 }
      local c = H.client(fake)
      local rows, err = c:search({ interval = H.I }):all()
      assert.is_nil(rows)
      assert.equal(500, err.status)
      assert.equal("query.error", err.code)
      assert.matches("could not run the query", err.advice, 1, true)
      assert.matches("There was a problem running the query", tostring(err), 1, true)
      assert.equal(1, #H.requests(fake, "/simplesearch/[^/]+/results$", "GET"))
    end)

    it("reports query.too.long (400) on both aggregates submits, sent once, with a clear error", function()
      local templates = {}
      for i = 1, 101 do templates[i] = "api/v2/routing/queues/" .. i end
      local c = H.client(fake)
      for _, run in ipairs {
        function() return c:aggregates({ interval = H.DAYS, templateUris = templates }):all() end,
        function() return c:client_aggregates(H.ACME, { interval = H.DAYS, templateUris = templates }):all() end,
      } do
        fake:clear_log()
        local rows, err = run()
        assert.is_nil(rows)
        assert.equal(400, err.status)
        assert.equal("query.too.long", err.code)
        assert.matches("use fewer filters", err.advice, 1, true)
        assert.matches("less filters", err.message, 1, true)
        assert.equal(1, #H.requests(fake, "/aggregates/query/jobs$", "POST"))
        assert.equal(0, #H.requests(fake, "/aggregates/query/jobs/", "GET"))
      end
    end)

    it("treats 202 answers, with and without a body, as still running", function()
      for _, running in ipairs { "body", "empty" } do
        fake:reset()
        fake:config { lifecycle = { polls = 3 }, accepted = { submit = true, running = running } }
        local c = H.client(fake, { retry = false }) -- no retry may hide a 202 taken for an error
        local rows, err = agg_rows(c)
        assert.is_nil(err, running .. ": " .. tostring(err))
        assert.is_true(#rows > 0)
        local result, qerr = c:query { interval = H.I }
        assert.is_nil(qerr, tostring(qerr))
        assert.is_true(#result.results > 0)
        local statuses = {}
        for _, e in ipairs(fake:log()) do statuses[e.status] = true end
        assert.is_true(statuses[202], "the fake answered no 202")
      end
    end)

    it("takes an old-generation answer with results and no queryStatus as complete", function()
      fake:config { omit_query_status = true, lifecycle = { polls = 1 } }
      local c = H.client(fake)
      local result, err = c:query { interval = H.I }
      assert.is_nil(err, tostring(err))
      assert.is_nil(result.queryStatus)
      assert.is_true(#result.results > 0)
    end)

    it("says what is known of a failed old-generation query (no errorBody there)", function()
      fake:fault { fault = "job_failed" }
      local c = H.client(fake)
      local result, err = c:query { interval = H.I }
      assert.is_nil(result)
      assert.equal("query_failed", err.code)
      assert.is_string(err.id)
      assert.is_string(err.correlation_id)
      assert.matches("no reason", err.message)
      assert.matches(err.id, tostring(err), 1, true)
    end)

    it("takes a sortBy with only an order", function()
      local c = H.client(fake)
      local rows, err = c:aggregates({ interval = H.DAYS, groupBy = { "OauthClientId" },
                                       sortBy = { { order = "Desc" } } }):all()
      assert.is_nil(err, tostring(err))
      assert.is_true(#rows > 0)
    end)

    it("sends per-call custom headers with every request of a flow, never over Authorization", function()
      local c = H.client(fake)
      assert(c:aggregates({ interval = H.DAYS }, { headers = { ["X-Trace"] = "t-1" } }):all())
      local api = H.requests(fake, "^/api/")
      assert.is_true(#api >= 2)
      for _, e in ipairs(api) do assert.equal("t-1", e.headers["x-trace"]) end
      assert(c:postUsageQuery({ interval = H.I }, { headers = { ["X-Trace"] = "t-2" } }))
      -- the job of the flow above, read again with other headers (its id is in the path of its GETs)
      local job = H.requests(fake, "/aggregates/query/jobs/[^/]+$", "GET")[1].path:match("[^/]+$")
      local page, err = c:getUsageAggregatesQueryJob(job, { pageSize = 1, headers = { ["X-Other"] = "o" } })
      assert.is_nil(err, tostring(err))
      assert.equal("Succeeded", page.queryStatus)
      assert.equal(1, #page.entities)
      local last = H.requests(fake, "^/api/")
      assert.equal("o", last[#last].headers["x-other"])
      assert.has_error(function() c:postUsageQuery({ interval = H.I }, { headers = { Authorization = "Bearer x" } }) end)
      assert.has_error(function() c:postUsageQuery({ interval = H.I }, { headers = { ["X-A"] = "a\r\nB: c" } }) end)
      assert.has_error(function() c:query({ interval = H.I }, { headers = { ["bad name"] = "v" } }) end)
    end)
  end)

  describe("aggregates past 90 days (#11)", function()
    it("splits a year into jobs of at most 90 whole days, read in date order, no day twice or missing", function()
      local iv = require "usage.base.interval"
      local days = assert(iv.days(330))
      local c = H.client(fake)
      local pager = c:aggregates({ interval = days.jobs, groupBy = { "OauthClientId" } }, { page_size = 1000 })
      local rows, err = pager:all()
      assert.is_nil(err, tostring(err))
      assert.equal(4, #pager.jobs)
      local posts = H.requests(fake, "/aggregates/query/jobs$", "POST")
      assert.equal(4, #posts)
      -- consecutive spans of at most 90 days covering the interval exactly
      local json = require "usage.base.json"
      local expect = iv.parse_date(days.first)
      for _, p in ipairs(posts) do
        local first, last = iv.covered(json.decode(p.body).interval, "jobs")
        assert.equal(expect, first)
        assert.is_true(last - first + 1 <= 90)
        expect = last + 1
      end
      assert.equal(iv.parse_date(days.last) + 1, expect)
      -- the rows: in date order, and exactly the fake's data for the interval
      for i = 2, #rows do assert.is_true(rows[i - 1].date <= rows[i].date) end
      local want = {}
      for _, r in ipairs(fake:data(days.first, days.last)) do
        local k = r.date .. "|" .. r.clientId
        want[k] = (want[k] or 0) + r.requests
      end
      local got = {}
      for _, r in ipairs(rows) do
        local k = r.date .. "|" .. r.oauthClient.id
        assert.is_nil(got[k], "a day twice: " .. k)
        got[k] = r.requestCount
      end
      assert.same(want, got)
    end)

    it("splits on month boundaries with Month granularity", function()
      local iv = require "usage.base.interval"
      local span = assert(iv.range(iv.date(iv.parse_date(iv.last_month().first) - 200), iv.last_month().last))
      local c = H.client(fake)
      local pager = c:aggregates({ interval = span.jobs, granularity = "Month" })
      assert(pager:all())
      local json = require "usage.base.json"
      local posts = H.requests(fake, "/aggregates/query/jobs$", "POST")
      assert.is_true(#posts >= 3, #posts) -- some 230 days: three jobs at least
      for _, p in ipairs(posts) do
        local first, last = iv.covered(json.decode(p.body).interval, "jobs")
        assert.equal(iv.date(last + 1):sub(9, 10), "01", "a job ends inside a month")
        assert.is_true(last - first + 1 <= 90)
      end
    end)

    it("refuses a start more than a year ago before anything is sent", function()
      local c = H.client(fake)
      local rows, err = c:aggregates({ interval = "2020-01-01/2020-02-01" }):all()
      assert.is_nil(rows)
      assert.equal("validation", err.code)
      assert.matches("one year", err.message)
      assert.equal(0, #H.requests(fake, "^/api/"))
    end)
  end)

  describe("gather", function()
    it("runs 8 queries slowed 1 s each in about the time of one", function()
      fake:config { lifecycle = { polls = 0 } }
      local c = H.client(fake)
      assert(c:postUsageQuery { interval = H.I }) -- log in first
      fake:fault { fault = "slow", delay = 1, count = 8, match = { method = "POST", path = "/usage/query$" } }
      local fns = {}
      for i = 1, 8 do fns[i] = function() return c:query { interval = H.I } end end
      local elapsed, results, errs = H.timed(function() return usage.gather(fns) end)
      for i = 1, 8 do
        assert.is_nil(errs[i])
        assert.equal("Complete", results[i].queryStatus)
      end
      assert.is_true(elapsed >= 1)
      -- all eight submissions reached the server while the first was still held for its second: one after
      -- the other they would arrive a second apart
      local arrived = {}
      for _, e in ipairs(H.requests(fake, "/usage/query$", "POST")) do
        if e.fault == "slow" then arrived[#arrived + 1] = e.time end
      end
      assert.equal(8, #arrived)
      table.sort(arrived)
      assert.is_true(arrived[8] - arrived[1] < 1, "the submissions arrived over " .. (arrived[8] - arrived[1]) .. " s")
    end)

    it("keeps going when one function fails or raises", function()
      fake:config { lifecycle = { polls = 0 } }
      local c = H.client(fake)
      local results, errs = usage.gather {
        function() return c:query { interval = H.I } end,
        function() error("boom") end,
        function() return c:getUsageQueryExecutionIdResults("nope") end,
        function() return c:aggregates({ interval = H.DAYS }):all() end,
      }
      assert.equal("Complete", results[1].queryStatus)
      assert.matches("boom", errs[2])
      assert.is_nil(results[3])
      assert.equal(404, errs[3].status)
      assert.is_true(#results[4] > 0)
    end)

    it("waits without blocking other coroutines and nests", function()
      local order = {}
      local c = H.client(fake)
      local rt = require "usage.runtime"
      usage.gather {
        function() rt.current().sleep(0.2); order[#order + 1] = "slow" end,
        function()
          local r = usage.gather { function() rt.current().sleep(0.05); return "inner" end }
          order[#order + 1] = r[1]
        end,
        function() assert(c:postUsageQuery { interval = H.I }); order[#order + 1] = "http" end,
      }
      assert.equal("slow", order[3])
      assert.is_true(usage.is_error(select(2, c:getUsageQueryExecutionIdResults("nope"))))
    end)

    it("blocks outside gather and inside a user's own coroutine", function()
      fake:config { lifecycle = { polls = 0 } }
      local c = H.client(fake)
      local co = coroutine.wrap(function() return c:query { interval = H.I } end)
      assert.equal("Complete", co().queryStatus)
    end)

    it("checks its argument", function()
      assert.has_error(function() usage.gather(nil) end)
      assert.has_error(function() usage.gather { 1 } end)
      local r, e = usage.gather {}
      assert.same({}, r)
      assert.same({}, e)
    end)
  end)

  describe("client-side rate limit", function()
    it("without it, a burst over the server's limit meets 429s", function()
      fake:config { rate_limit = { requests = 10, per = 2 }, lifecycle = { polls = 0 } }
      local c = H.client(fake, { retry = false })
      local got429 = 0
      for _ = 1, 15 do
        local _, err = c:postUsageQuery { interval = H.I }
        if err and err.status == 429 then got429 = got429 + 1 end
      end
      assert.is_true(got429 > 0)
    end)

    it("with the same budget, 60 calls from 6 coroutines see zero 429s", function()
      fake:config { rate_limit = { requests = 10, per = 2 }, lifecycle = { polls = 0 } }
      local c = H.client(fake, { rate_limit = { requests = 10, per = 2 }, retry = false })
      local fns = {}
      for i = 1, 6 do
        fns[i] = function()
          for _ = 1, 10 do
            local _, err = c:postUsageQuery { interval = H.I }
            if err then return nil, err end
          end
          return true
        end
      end
      local elapsed, results, errs = H.timed(function() return usage.gather(fns) end)
      for i = 1, 6 do
        assert.is_nil(errs[i])
        assert.is_true(results[i])
      end
      local api = H.requests(fake, "^/api/v2/")
      assert.equal(60, #api)
      for _, e in ipairs(api) do assert.are_not.equal(429, e.status) end
      assert.is_true(elapsed >= 10) -- 60 requests at 10 per 2 s need five full windows
    end)
  end)
end)
