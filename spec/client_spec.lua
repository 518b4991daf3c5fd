-- The client against the fake cloud: the 11 operations, errors, authentication, retries, transport
-- faults, bad input, int64 counts, empty arrays, logging and secrets.
local H = require "helper"
local usage = require "usage"
local json = require "usage.base.json"
local core = require "usage.core"

describe("the client", function()
  local fake

  setup(function()
    fake = H.start()
  end)

  teardown(function()
    if fake then fake:stop() end
  end)

  before_each(function()
    fake:reset()
    fake:config { lifecycle = { polls = 0 } } -- answers are final at the first read
  end)

  describe("the 11 operations", function()
    it("submit and read an organization query", function()
      local c = H.client(fake)
      local sub, err, meta = c:postUsageQuery { interval = H.I, groupBy = { "OAuthClientId" }, metrics = { "Requests" } }
      assert.is_nil(err)
      assert.is_string(sub.executionId)
      assert.is_string(sub.resultsUri)
      assert.equal(200, meta.status)
      local res = assert(c:getUsageQueryExecutionIdResults(sub.executionId))
      assert.equal("Complete", res.queryStatus)
      assert.is_true(#res.results > 0)
      local row = res.results[1]
      assert.is_string(row.clientId)
      assert.is_true(H.is_integer(row.requests))
    end)

    it("submit and read an OAuth client query and summary", function()
      local c = H.client(fake)
      local sub = assert(c:postOauthClientUsageQuery(H.ACME, { interval = H.I, granularity = "Day" }))
      local res = assert(c:getOauthClientUsageQueryResult(sub.executionId, H.ACME))
      assert.equal("Complete", res.queryStatus)
      assert.is_true(#res.results > 0)
      local sum = assert(c:getOauthClientUsageSummary(H.ACME, { days = "7" }))
      assert.is_string(sum.executionId)
      res = assert(c:get_oauth_client_usage_query_result(sum.executionId, H.ACME))
      assert.equal("Complete", res.queryStatus)
      local q = H.requests(fake, "/usage/summary$")
      assert.equal("days=7", q[1].query)
    end)

    it("submit and page a simple search", function()
      local c = H.client(fake)
      local sub = assert(c:postUsageSimplesearch { interval = H.I, httpMethods = { "GET" } })
      local page = assert(c:getUsageSimplesearchExecutionIdResults(sub.executionId, { pageSize = 10 }))
      assert.equal("Complete", page.queryStatus)
      assert.equal(10, #page.results)
      assert.is_string(page.cursors.after)
      local page2 = assert(c:getUsageSimplesearchExecutionIdResults(sub.executionId,
        { pageSize = 10, after = page.cursors.after }))
      assert.is_true(#page2.results > 0)
      assert.are_not.same(page.results[1], page2.results[1])
      for _, row in ipairs(page.results) do assert.equal("GET", row.httpMethod) end
    end)

    it("submit and page organization and client aggregates jobs", function()
      local c = H.client(fake)
      local job = assert(c:postUsageAggregatesQueryJobs { interval = H.DAYS, groupBy = { "OauthClientId" } })
      assert.is_string(job.id)
      local res = assert(c:getUsageAggregatesQueryJob(job.id, { pageSize = 5 }))
      assert.equal("Succeeded", res.queryStatus)
      assert.equal(5, #res.entities)
      assert.is_string(res.nextUri)
      assert.is_true(H.is_integer(res.entities[1].requestCount))
      assert.is_string(res.entities[1].oauthClient.id)
      local cjob = assert(c:post_usage_client_client_id_aggregates_query_jobs(H.HEAVY, { interval = H.DAYS,
        groupBy = { "OrganizationId" } }))
      local cres = assert(c:getUsageClientClientIdAggregatesQueryJob(H.HEAVY, cjob.id, { pageSize = 1000 }))
      assert.equal("Succeeded", cres.queryStatus)
      assert.is_true(#cres.entities > 0)
      assert.is_string(cres.entities[1].organizationId)
    end)

    it("sends JSON with a bearer token and the documented headers", function()
      local c = H.client(fake, { user_agent = "spec-agent/1" })
      assert(c:postUsageQuery { interval = H.I })
      local post = H.requests(fake, "^/api/v2/usage/query$", "POST")[1]
      assert.matches("^Bearer ", post.headers["authorization"])
      assert.equal("application/json", post.headers["content-type"])
      assert.equal("application/json", post.headers["accept"])
      assert.equal("spec-agent/1", post.headers["user-agent"])
      assert.same({ interval = H.I }, json.decode(post.body))
    end)

    it("gives meta with status, headers, correlation id and rate-limit figures", function()
      local c = H.client(fake)
      local _, _, meta = c:postUsageQuery { interval = H.I }
      assert.equal(200, meta.status)
      assert.equal("application/json", meta.headers["content-type"])
      local n = 0
      for name in pairs(meta.headers) do
        n = n + 1
        assert.equal(name:lower(), name)
      end
      assert.is_true(n >= 5)
      assert.is_string(meta.correlation_id)
      assert.equal(meta.correlation_id, meta.headers["inin-correlation-id"])
      assert.is_true(H.is_integer(meta.ratelimit.allowed))
      assert.is_true(H.is_integer(meta.ratelimit.count))
    end)
  end)

  describe("the core session", function()
    it("switches methods and timeouts on one kept-alive handle", function()
      local s = core.session {}
      local url = fake.base_url .. "/api/v2/usage/query"
      local seen = {}
      for _, m in ipairs { "GET", "POST", "GET", "GET", "HEAD", "PUT", "GET", "DELETE", "GET" } do
        local body = (m == "POST" or m == "PUT") and "{}" or nil
        local status, raw = s:request { method = m, url = url, body = body, timeout = m == "GET" and 5 or 7,
                                        raw_headers = true }
        assert.is_number(status)
        assert.is_string(raw)
        seen[#seen + 1] = m
      end
      s:close()
      local got = {}
      for _, e in ipairs(fake:log()) do got[#got + 1] = e.method end
      assert.same(seen, got)
    end)

    it("sends each request's own headers when the handle keeps the last request's list", function()
      local s = core.session {}
      local url = fake.base_url .. "/api/v2/usage/query"
      local sent = {
        { headers = { ["x-a"] = "1" } }, { headers = { ["x-a"] = "1" } }, { headers = { ["x-a"] = "2" } },
        { headers = { ["x-a"] = "2", ["x-b"] = "3" } }, { headers = { ["x-a"] = "2" } }, { headers = {} },
        {}, { headers = { ["x-a"] = "1" } }, { method = "POST", body = "{}", headers = { ["x-a"] = "1" } },
        { headers = { ["x-a"] = "1" } }, { headers = { ["x-a"] = "12" } }, { headers = { ["x-a"] = "1" } },
      }
      fake:clear_log()
      for _, r in ipairs(sent) do
        r.url = url
        assert.is_number((s:request(r)))
      end
      local log = fake:log()
      assert.equal(#sent, #log)
      for i, e in ipairs(log) do
        local want = sent[i].headers or {}
        assert.equal(want["x-a"], e.headers["x-a"], "request " .. i)
        assert.equal(want["x-b"], e.headers["x-b"], "request " .. i)
      end
      -- the checks stay: a bad name or value is refused even where its line would read like the last one's
      assert.is_number((s:request { url = url, headers = { a = "b: c" } }))
      assert.has_error(function() s:request { url = url, headers = { ["a: b"] = "c" } } end)
      assert.is_number((s:request { url = url, headers = { ["x-a"] = "1" } }))
      assert.has_error(function() s:request { url = url, headers = { ["x-a"] = "1\0" } } end)
      assert.has_error(function() s:request { url = url, headers = { ["x-a"] = "1\r\nx-b: 2" } } end)
      s:close()
    end)
  end)

  describe("errors", function()
    it("maps 400 with details (validation left to the server)", function()
      local c = H.client(fake, { validate = false })
      local data, err, meta = c:postUsageQuery { interval = H.I, granularity = "Hour" }
      assert.is_nil(data)
      assert.equal(400, err.status)
      assert.is_truthy(({ ["bad.request"] = 1, ["invalid.value"] = 1 })[err.code])
      assert.is_string(err.correlation_id)
      assert.equal(meta.correlation_id, err.correlation_id)
      assert.is_table(err.body.details)
      assert.equal("granularity", err.body.details[1].fieldName)
      assert.matches("HTTP 400", tostring(err))
      assert.matches(err.correlation_id, tostring(err), 1, true)
    end)

    it("maps 401, 403 and 404", function()
      local bad = H.client(fake, { access_token = "not-a-token", client_id = H.NONE, client_secret = H.NONE })
      local _, err = bad:postUsageQuery { interval = H.I }
      assert.equal(401, err.status)
      assert.equal("bad.credentials", err.code)
      assert.equal(1, #H.requests(fake, "^/api/v2/usage/query$")) -- a fixed token cannot log in again

      local np = H.client(fake, { client_id = H.clients.no_perms.id, client_secret = H.clients.no_perms.secret })
      _, err = np:postUsageQuery { interval = H.I }
      assert.equal(403, err.status)
      assert.equal("missing.any.permissions", err.code)

      local c = H.client(fake)
      _, err = c:getUsageQueryExecutionIdResults("no-such-execution")
      assert.equal(404, err.status)
      assert.equal("not.found", err.code)
    end)

    it("maps every injected error status to its code", function()
      local c = H.client(fake, { retry = false })
      -- (an array: a nil code in a table constructor would drop its status from the loop)
      local cases = { { 415, "unsupported.media.type" }, { 429, "too.many.requests.retry.after" },
                      { 500, "internal.server.error" }, { 502, "bad.gateway" }, { 503, "service.unavailable" },
                      { 504, "request.timeout" } }
      local tested = 0
      for _, case in ipairs(cases) do
        local status, code = case[1], case[2]
        fake:fault { fault = "status", status = status, match = { path = "/usage/query$" } }
        local data, err = c:postUsageQuery { interval = H.I }
        assert.is_nil(data)
        assert.equal(status, err.status)
        assert.equal(code, err.code)
        assert.is_string(err.message)
        tested = tested + 1
      end
      assert.equal(6, tested)
      assert.equal(6, #H.requests(fake, "/usage/query$", "POST"))
    end)

    it("returns nil, err for a failed login with no secret anywhere", function()
      local events, logger = H.recorder()
      local c = H.client(fake, { client_secret = "wrong-secret-Zq7", logger = logger })
      local data, err = c:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      assert.equal("invalid_client", err.code)
      assert.equal(1, H.logins(fake)) -- a bad secret is not retried
      assert.equal(0, #H.requests(fake, "^/api/v2/"))
      local seen = tostring(err) .. tostring(c) .. json.encode(err.body or {})
      for _, e in ipairs(events) do seen = seen .. e.message .. json.encode(e.fields) end
      assert.is_nil(seen:find("wrong-secret-Zq7", 1, true))
      assert.is_nil(seen:find(core.base64("demo-client:wrong-secret-Zq7"), 1, true))
    end)
  end)

  describe("authentication", function()
    it("logs in once for many calls", function()
      local c = H.client(fake)
      for _ = 1, 5 do assert(c:postUsageQuery { interval = H.I }) end
      assert.equal(1, H.logins(fake))
      local login = H.requests(fake, "^/oauth/token$")[1]
      assert.equal("Basic " .. core.base64("demo-client:demo-secret"), login.headers["authorization"])
      assert.equal("application/x-www-form-urlencoded", login.headers["content-type"])
      assert.equal("grant_type=client_credentials", login.body)
    end)

    it("logs in again shortly before the token expires", function()
      -- (a token is used for at least limits.TOKEN_MIN_LIFETIME whatever expires_in says, so that one that
      -- "expires" at once makes no login per request; lowered here to see the refresh in a second)
      local limits = require "usage.api.limits"
      local floor = limits.TOKEN_MIN_LIFETIME
      finally(function() limits.TOKEN_MIN_LIFETIME = floor end)
      limits.TOKEN_MIN_LIFETIME = 1
      fake:config { token_expires_in = 1 }
      local c = H.client(fake)
      assert(c:postUsageQuery { interval = H.I })
      assert(c:postUsageQuery { interval = H.I })
      assert.equal(1, H.logins(fake))
      core.sleep(1.0)
      assert(c:postUsageQuery { interval = H.I })
      assert.equal(2, H.logins(fake))
      assert.equal(0, #H.requests(fake, "^/api/v2/.*", nil) - #H.requests(fake, "^/api/v2/usage/query$"))
      for _, e in ipairs(H.requests(fake, "^/api/v2/")) do assert.equal(200, e.status) end
    end)

    it("logs in once more and retries once after a revoked token", function()
      local c = H.client(fake)
      assert(c:postUsageQuery { interval = H.I })
      fake:fault { fault = "expired_token", match = { path = "^/api/v2/" } }
      local data, err = c:postUsageQuery { interval = H.I }
      assert.is_nil(err)
      assert.is_string(data.executionId)
      assert.equal(2, H.logins(fake))
      local posts = H.requests(fake, "^/api/v2/usage/query$")
      assert.equal(3, #posts)
      assert.equal(401, posts[2].status)
      assert.are_not.equal(posts[2].headers["authorization"], posts[3].headers["authorization"])
    end)

    it("re-logs in only once when the new token is refused too", function()
      local c = H.client(fake)
      fake:fault { fault = "expired_token", count = 5, match = { path = "^/api/v2/" } }
      local data, err = c:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      assert.equal(401, err.status)
      assert.equal("credentials.expired", err.code)
      assert.equal(2, H.logins(fake))
      assert.equal(2, #H.requests(fake, "^/api/v2/"))
    end)

    it("backs off and retries when the token endpoint throttles (400 rate limit exceeded)", function()
      fake:fault { fault = "token_throttle", count = 2 }
      local c = H.client(fake)
      local elapsed, data, err = H.timed(function() return c:postUsageQuery { interval = H.I } end)
      assert.is_nil(err)
      assert.is_table(data)
      assert.equal(3, H.logins(fake))
      assert.is_true(elapsed >= 1.0) -- at least a second between throttled logins
    end)

    it("retries a broken token answer", function()
      fake:fault { fault = "malformed", match = { path = "^/oauth/token$" } }
      local c = H.client(fake)
      assert(c:postUsageQuery { interval = H.I })
      assert.equal(2, H.logins(fake))
    end)

    it("gives up on a throttled token endpoint within the retry bounds", function()
      fake:fault { fault = "token_throttle", count = -1 }
      local c = H.client(fake, { retry = { max_retries = 1, max_retry_time = 5 } })
      local data, err = c:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      assert.equal(400, err.status)
      assert.equal("invalid_request", err.code)
      assert.matches("rate limit", err.message)
      assert.equal(2, H.logins(fake))
    end)

    it("shares one login between the coroutines of a gather", function()
      local c = H.client(fake)
      local fns = {}
      for i = 1, 6 do fns[i] = function() return c:postUsageQuery { interval = H.I } end end
      local results, errs = usage.gather(fns)
      for i = 1, 6 do
        assert.is_nil(errs[i])
        assert.is_string(results[i].executionId)
      end
      assert.equal(1, H.logins(fake))
    end)
  end)

  describe("retries", function()
    local function results_of(c)
      local sub = assert(c:postUsageQuery { interval = H.I })
      fake:clear_log()
      return sub.executionId
    end

    it("waits out Retry-After on a 429", function()
      local c = H.client(fake)
      local id = results_of(c)
      fake:fault { fault = "status", status = 429, retry_after = 1, match = { path = "/results$" } }
      local elapsed, data, err = H.timed(function() return c:getUsageQueryExecutionIdResults(id) end)
      assert.is_nil(err)
      assert.equal("Complete", data.queryStatus)
      assert.is_true(elapsed >= 1.0)
      local gets = H.requests(fake, "/results$")
      assert.equal(2, #gets)
      assert.equal(429, gets[1].status)
      assert.is_true(gets[2].time - gets[1].time >= 0.99)
    end)

    it("retries a POST on 429 and 503 but not on 502 or a dropped connection", function()
      local c = H.client(fake)
      assert(c:postUsageQuery { interval = H.I })
      fake:clear_log()
      fake:fault { fault = "status", status = 503, retry_after = 0, match = { method = "POST", path = "/usage/query$" } }
      assert(c:postUsageQuery { interval = H.I })
      assert.equal(2, #H.requests(fake, "/usage/query$"))

      fake:clear_log()
      fake:fault { fault = "status", status = 502, match = { method = "POST", path = "/usage/query$" } }
      local _, err = c:postUsageQuery { interval = H.I }
      assert.equal(502, err.status)
      assert.equal(1, #H.requests(fake, "/usage/query$"))

      -- libcurl itself resends once when a *reused* connection dies before any answer byte (a stale
      -- keep-alive); on a fresh connection a dropped POST is not sent again
      local fresh = H.client(fake, { access_token = (fake:token("demo")), client_id = H.NONE, client_secret = H.NONE })
      fake:clear_log()
      fake:fault { fault = "drop", match = { method = "POST", path = "/usage/query$" } }
      _, err = fresh:postUsageQuery { interval = H.I }
      assert.is_nil(err.status)
      assert.equal("connection", err.code)
      assert.equal(1, #H.requests(fake, "/usage/query$"))
    end)

    it("retries a GET on 502, 503, 504 and dropped or truncated answers", function()
      local c = H.client(fake)
      local id = results_of(c)
      for _, f in ipairs {
        { fault = "status", status = 502 }, { fault = "status", status = 503 }, { fault = "status", status = 504 },
        { fault = "drop" }, { fault = "truncated" }, { fault = "malformed" },
      } do
        fake:clear_log()
        f.match = { path = "/results$" }
        fake:fault(f)
        local data, err = c:getUsageQueryExecutionIdResults(id)
        assert.is_nil(err, f.fault .. tostring(f.status))
        assert.equal("Complete", data.queryStatus)
        assert.equal(2, #H.requests(fake, "/results$"))
      end
    end)

    it("does not retry a 500", function()
      local c = H.client(fake)
      local id = results_of(c)
      fake:fault { fault = "status", status = 500, match = { path = "/results$" } }
      local _, err = c:getUsageQueryExecutionIdResults(id)
      assert.equal(500, err.status)
      assert.equal(1, #H.requests(fake, "/results$"))
    end)

    it("gives up at once when Retry-After is beyond max_retry_after", function()
      local c = H.client(fake, { retry = { max_retry_after = 2 } })
      local id = results_of(c)
      fake:fault { fault = "status", status = 429, retry_after = 30, match = { path = "/results$" } }
      local _, err = c:getUsageQueryExecutionIdResults(id)
      assert.equal(429, err.status)
      assert.equal(30, err.retry_after)
      assert.is_nil(err.attempts) -- one attempt: it did not wait the 30 s
      assert.equal(1, #H.requests(fake, "/results$"))
    end)

    it("stops after max_retries and says how many attempts it made", function()
      local c = H.client(fake, { retry = { max_retries = 2 } })
      local id = results_of(c)
      fake:fault { fault = "status", status = 503, retry_after = 0, count = 10, match = { path = "/results$" } }
      local _, err = c:getUsageQueryExecutionIdResults(id)
      assert.equal(503, err.status)
      assert.equal(3, err.attempts)
      assert.equal(3, #H.requests(fake, "/results$"))
    end)

    it("stops within max_retry_time", function()
      local c = H.client(fake, { retry = { max_retries = 50, max_retry_time = 1.5 } })
      local id = results_of(c)
      fake:fault { fault = "status", status = 429, retry_after = 1, count = 10, match = { path = "/results$" } }
      local _, err = c:getUsageQueryExecutionIdResults(id)
      assert.equal(429, err.status)
      -- one retry after 1 s; a second would end past the 1.5 s budget, so it stops with 2 attempts of 50
      assert.equal(2, err.attempts)
      assert.equal(2, #H.requests(fake, "/results$"))
    end)

    it("can be turned off", function()
      local c = H.client(fake, { retry = false })
      local id = results_of(c)
      fake:fault { fault = "status", status = 503, match = { path = "/results$" } }
      local _, err = c:getUsageQueryExecutionIdResults(id)
      assert.equal(503, err.status)
      assert.equal(1, #H.requests(fake, "/results$"))
    end)
  end)

  describe("transport failures", function()
    local c, id
    before_each(function()
      local setup_client = H.client(fake)
      id = assert(setup_client:postUsageQuery { interval = H.I }).executionId
      -- a fresh connection for the faulty request (see the dropped POST above)
      c = H.client(fake, { retry = false, timeout = 0.5, access_token = (fake:token("demo")),
                           client_id = H.NONE, client_secret = H.NONE })
    end)

    local cases = {
      { fault = { fault = "slow", delay = 2 }, code = "timeout" },
      { fault = { fault = "drop" }, code = "connection" },
      { fault = { fault = "truncated" }, code = "truncated" },
      { fault = { fault = "malformed" }, code = "bad_json", status = 200 },
    }
    for _, case in ipairs(cases) do
      it("maps " .. case.fault.fault .. " to " .. case.code, function()
        case.fault.match = { path = "/results$" }
        fake:fault(case.fault)
        local data, err = c:getUsageQueryExecutionIdResults(id)
        assert.is_nil(data)
        assert.equal(case.code, err.code)
        assert.equal(case.status, err.status)
        assert.is_string(err.message)
        assert.matches(case.code, tostring(err), 1, true)
      end)
    end

    it("maps a refused connection to connect", function()
      local dead = H.client(fake, { base_url = "http://127.0.0.1:1", retry = { max_retries = 1 } })
      local _, err = dead:postUsageQuery { interval = H.I }
      assert.equal("connect", err.code)
      assert.equal(2, err.attempts) -- nothing reached a server: even a POST is retried
    end)

    it("caps the response size", function()
      local small = H.client(fake, { max_response_size = 2048 })
      local sub = assert(small:postUsageQuery { interval = H.DAYS, groupBy = { "OAuthClientId", "TemplateUri" } })
      local _, err = small:getUsageQueryExecutionIdResults(sub.executionId)
      assert.equal("too_large", err.code)
    end)
  end)

  describe("bad input", function()
    local c
    before_each(function() c = H.client(fake) end)

    it("raises on wrong or missing positional arguments before any request", function()
      assert.has_error(function() c:postUsageQuery("interval") end)
      assert.has_error(function() c:postUsageQuery() end)
      local ok, msg = pcall(c.getUsageQueryExecutionIdResults, c)
      assert.is_false(ok)
      assert.matches("argument #1 'executionId' must be a string, got nil", msg)
      assert.has_error(function() c:getUsageQueryExecutionIdResults(42) end)
      assert.has_error(function() c:getOauthClientUsageQueryResult("exec") end)
      assert.has_error(function() c.postUsageQuery { interval = H.I } end)
      assert.has_error(function() c:getUsageAggregatesQueryJob("job", "pageSize=5") end)
      assert.has_error(function() c:getUsageAggregatesQueryJob("job", { page_size = 5 }) end)
      assert.equal(0, #fake:log())
    end)

    it("raises on huge or fractional pageSize and bad days", function()
      assert.has_error(function() c:getUsageAggregatesQueryJob("job", { pageSize = 100000 }) end)
      assert.has_error(function() c:getUsageAggregatesQueryJob("job", { pageSize = 0 }) end)
      assert.has_error(function() c:getUsageSimplesearchExecutionIdResults("x", { pageSize = 1.5 }) end)
      assert.has_error(function() c:getOauthClientUsageSummary(H.ACME, { days = "seven" }) end)
      assert.equal(0, #fake:log())
    end)

    it("refuses CR/LF in tokens and ids, and encodes path traversal", function()
      assert.has_error(function() usage.new { base_url = fake.base_url, access_token = "abc\r\nX-Evil: 1" } end)
      assert.has_error(function() c:getUsageQueryExecutionIdResults("abc\r\nX-Evil: 1") end)
      assert.has_error(function() c:getUsageQueryExecutionIdResults("..") end)
      local _, err = c:getUsageQueryExecutionIdResults("../../../oauth/token")
      assert.equal(404, err.status)
      local got = H.requests(fake, "^/api/v2/usage/query/")
      assert.equal(1, #got)
      assert.equal("/api/v2/usage/query/..%2F..%2F..%2Foauth%2Ftoken/results", got[1].path)
    end)

    it("returns a validation error naming the field and the allowed values", function()
      local data, err = c:postUsageQuery { interval = H.I, groupBy = { "Planet" } }
      assert.is_nil(data)
      assert.equal("validation", err.code)
      assert.equal("groupBy[1]", err.field)
      assert.matches("OAuthClientId", tostring(err))
      _, err = c:postUsageAggregatesQueryJobs { granularity = "Day" }
      assert.equal("interval", err.field)
      assert.equal(0, #H.requests(fake, "^/api/"))
    end)

    it("refuses bad options at construction", function()
      assert.has_error(function() usage.new { base_url = fake.base_url } end) -- no credentials
      assert.has_error(function() usage.new { access_token = "t0k3n-0k", region = "mars_1" } end)
      assert.has_error(function() usage.new { access_token = "t0k3n-0k", timeout = -1 } end)
      assert.has_error(function() usage.new { access_token = "t0k3n-0k", retry = { max_retries = "5" } } end)
      assert.has_error(function() usage.new { access_token = "t0k3n-0k", poll = { every = 1 } } end)
      assert.has_error(function() usage.new { access_token = "t0k3n-0k", base_url = "ftp://127.0.0.1" } end)
      assert.has_error(function() usage.new { access_token = "t0k3n-0k", base_url = "http://api.example.com" } end)
      assert.truthy(usage.new { access_token = "t0k3n-0k", base_url = "http://api.example.com", insecure = true })
      assert.truthy(usage.new { access_token = "t0k3n-0k", base_url = "http://[::1]:8080" })
      local ok, msg = pcall(usage.new, { access_token = "t0k3n-0k", timout = 3 })
      assert.is_false(ok)
      assert.matches("timout", msg)
    end)

    it("builds URLs from region and environment", function()
      assert.equal("https://api.mypurecloud.ie", usage.new { access_token = "t0k3n-0k", region = "eu_west_1" }.base_url)
      assert.equal("https://login.mypurecloud.ie", usage.new { access_token = "t0k3n-0k", region = "eu_west_1" }.login_url)
      assert.equal("https://api.mypurecloud.com", usage.new { access_token = "t0k3n-0k" }.base_url)
      assert.equal("https://api.usw2.pure.cloud", usage.new { access_token = "t0k3n-0k", environment = "usw2.pure.cloud" }.base_url)
    end)
  end)

  describe("data", function()
    it("keeps int64 counts exact, as Lua integers (above 2^31; above 2^53 too under Lua 5.3+)", function()
      local c = H.client(fake)
      local day = H.day(-12)
      -- the fake's count offset: one record of the Bulk Export Service that day gets that many more requests
      for _, value in ipairs { "3000000000", "9007199254740993" } do
        fake:config { count_offset = { date = day, value = value } }
        fake:clear_log()
        local sub = assert(c:postOauthClientUsageQuery(H.HEAVY, { interval = day .. "/" .. H.day(-11),
                                                                   groupBy = { "TemplateUri" } }))
        local res, rerr = c:getOauthClientUsageQueryResult(sub.executionId, H.HEAVY)
        if not math.type and #value >= 16 then
          -- LuaJIT's numbers are doubles: a count past 2^53 is refused, never rounded
          assert.is_nil(res)
          assert.equal("bad_response", rerr.code)
          assert.truthy(tostring(rerr):find("above 2^53", 1, true), tostring(rerr))
          break
        end
        assert(res, rerr)
        -- the raw text of the same answer, read digit by digit
        local raw = H.requests(fake, "/usage/query/results/")[1]
        assert.is_truthy(raw)
        local s = core.session()
        local status, _, body = s:request { url = fake.base_url .. raw.path, headers = {
          authorization = raw.headers["authorization"] } }
        s:close()
        assert.equal(200, status)
        local texts = {}
        for n in body:gmatch('"requests":(%d+)') do texts[#texts + 1] = n end
        assert.is_true(#texts > 1)
        assert.equal(#texts, #res.results)
        local big = 0
        for i, row in ipairs(res.results) do
          assert.is_true(H.is_integer(row.requests))
          if #texts[i] >= #value then big = big + 1 end
          if math.type or #texts[i] < 16 then -- LuaJIT's numbers are doubles: exact up to 2^53
            assert.equal(texts[i], string.format("%d", row.requests))
          end
        end
        assert.equal(1, big)
      end
      fake:config { count_offset = false }
    end)

    it("sends empty arrays as [] and keeps them arrays in answers", function()
      local c = H.client(fake)
      local sub = assert(c:postUsageSimplesearch { interval = H.I, oauthClientNames = { "no such client" },
                                                   templateUris = {} })
      local post = H.requests(fake, "/usage/simplesearch$", "POST")[1]
      assert.matches('"templateUris":%[%]', post.body)
      local res = assert(c:getUsageSimplesearchExecutionIdResults(sub.executionId))
      assert.equal(0, #res.results)
      assert.equal("[]", json.encode(res.results))
    end)

    it("sends a body unvalidated but still with [] arrays when validate = false", function()
      local c = H.client(fake, { validate = false })
      assert(c:postUsageQuery { interval = H.I, metrics = {} })
      local post = H.requests(fake, "/usage/query$", "POST")[1]
      assert.matches('"metrics":%[%]', post.body)
    end)
  end)

  describe("logging", function()
    it("emits one structured event per request, without secrets", function()
      local events, logger = H.recorder()
      local c = H.client(fake, { logger = logger })
      local sub = assert(c:postUsageQuery { interval = H.I })
      fake:fault { fault = "status", status = 503, retry_after = 0, match = { path = "/results$" } }
      assert(c:getUsageQueryExecutionIdResults(sub.executionId))
      assert.equal(#fake:log(), #events)
      local last = events[#events]
      assert.equal("GET", last.fields.method)
      assert.equal("/api/v2/usage/query/" .. sub.executionId .. "/results", last.fields.path)
      assert.equal(200, last.fields.status)
      assert.equal(2, last.fields.attempt)
      assert.is_number(last.fields.elapsed)
      assert.is_string(last.fields.correlation_id)
      assert.equal("warn", events[#events - 1].level)
      local all = ""
      for _, e in ipairs(events) do all = all .. e.message .. json.encode(e.fields) end
      assert.is_nil(all:find("demo-secret", 1, true))
      local token = H.requests(fake, "/results$")[1].headers["authorization"]:sub(8)
      assert.is_nil(all:find(token, 1, true))
      assert.is_nil(tostring(c):find("demo", 1, true))
    end)

    it("redacts secrets and tokens that a server echoes in an error", function()
      local c = H.client(fake)
      assert(c:postUsageQuery { interval = H.I })
      local token = H.requests(fake, "^/api/")[1].headers["authorization"]:sub(8)
      fake:fault { fault = "status", status = 400, code = "bad.request",
                   message = "rejected demo-secret and " .. token .. " and Basic " .. core.base64("demo-client:demo-secret") }
      local _, err = c:postUsageQuery { interval = H.I }
      assert.equal(400, err.status)
      local text = tostring(err)
      assert.matches("rejected", text)
      assert.is_nil(text:find("demo-secret", 1, true))
      assert.is_nil(text:find(token, 1, true))
      assert.is_nil(text:find(core.base64("demo-client:demo-secret"), 1, true))
      assert.matches("%[REDACTED%]", text)
    end)

    it("survives a logger that raises", function()
      local c = H.client(fake, { logger = function() error("logger broke") end })
      assert(c:postUsageQuery { interval = H.I })
    end)
  end)
end)
