-- usage.http.exchange on a scripted runtime (spec/support/script.lua): every rule of its retry table, the
-- bounds of the retries, one new login after a 401, the decoding of answers, and the redaction of all that
-- leaves it. No server; the waits are read off the script's clock.

local script = require "support.script"
local exchange = require "usage.http.exchange"
local auth_mod = require "usage.http.auth"
local redact_mod = require "usage.base.redact"
local json = require "usage.base.json"
local limits = require "usage.api.limits"

local GET = { name = "getThing", method = "GET", idempotent = true }
local POST = { name = "postThing", method = "POST", idempotent = false }
local LOGIN = { name = "login", method = "POST", idempotent = true, login = true }
local REQ = { url = "https://api.test/api/v2/thing", path = "/api/v2/thing" }
local SECRET = "s3cr3t-value-Q9"
local TOKEN = "tok-" .. string.rep("A7x", 12)

local function new(o)
  o = o or {}
  local redact = redact_mod.new()
  redact:add(SECRET)
  local stats = { requests = 0, retries = 0, logins = 0, responses_429 = 0 }
  local retry = o.retry
  if retry == nil then
    retry = { max_retries = limits.MAX_RETRIES, max_retry_time = limits.MAX_RETRY_TIME,
              max_retry_after = limits.MAX_RETRY_AFTER }
  end
  local ex = exchange.new { transport = "transport", retry = retry, redact = redact, logger = o.logger,
                            timeouts = { timeout = 16, connect_timeout = 5, max_size = 1024 * 1024 },
                            stats = stats, limiter = o.limiter }
  return ex, stats, redact
end

local OK = { status = 200, json = { ok = true } }

-- a failing answer that the rule matches: with Retry-After (after) or without
local function failure_for(rule, after)
  local headers = after and { ["Retry-After"] = tostring(after) } or nil
  if rule.transport then
    local code = next(rule.transport)
    return { error = code, message = "transport says " .. code }
  elseif rule.code == "bad_json" then
    return { status = 200, body = "{ not json", headers = headers }
  elseif rule.throttled then
    return { status = rule.status, headers = headers,
             json = { error = "invalid_request", error_description = "Rate limit exceeded, try later" } }
  end
  return { status = rule.status, headers = headers, json = { code = "some.code", message = "failed" } }
end

local function op_for(rule)
  if rule.login then return LOGIN end
  if rule.idempotent then return GET end
  return POST
end

describe("usage.http.exchange", function()
  describe("its retry rules, walked from exchange.RULES", function()
    for i, rule in ipairs(exchange.RULES) do
      local what = string.format("rule %d (%s)", i, rule.transport and "transport" or rule.code or tostring(rule.status))

      it(what .. ": a failure it matches is retried, after the wait it names", function()
        local ex, stats = new()
        local rt = script.runtime():answer(failure_for(rule), OK)
        local data, err, meta = ex:run(rt, REQ, op_for(rule))
        assert.is_nil(err, tostring(err))
        assert.is_true(data.ok)
        assert.equal(2, #rt.requests)
        assert.equal(2, meta.attempts)
        assert.equal(1, stats.retries)
        assert.equal(1, #rt.sleeps)
        local wait = rt.sleeps[1]
        if rule.wait == "retry_after" then
          assert.equal(limits.RETRY_AFTER_429, wait) -- none given
        else -- a backoff: the first one, jittered in [half, whole]
          local floor_ = rule.min and limits[rule.min] or 0
          assert.is_true(wait >= math.max(floor_, limits.BACKOFF_FIRST / 2) and
                         wait <= math.max(floor_, limits.BACKOFF_FIRST), tostring(wait))
        end
      end)

      if rule.wait ~= "backoff" then
        it(what .. ": waits the answer's Retry-After", function()
          local ex = new()
          local rt = script.runtime():answer(failure_for(rule, 7), OK)
          assert(ex:run(rt, REQ, op_for(rule)))
          assert.same({ 7 }, rt.sleeps)
        end)
      end

      if rule.idempotent and not rule.login then
        it(what .. ": not for a request that must not be sent twice", function()
          local ex = new()
          local rt = script.runtime():answer(failure_for(rule), OK)
          local data, err = ex:run(rt, REQ, POST)
          assert.is_nil(data)
          assert.truthy(err)
          assert.equal(1, #rt.requests)
          assert.equal(1, rt:left())
        end)
      end
      if rule.login then
        it(what .. ": only for the token request", function()
          local ex = new()
          local rt = script.runtime():answer(failure_for(rule), OK)
          assert.is_nil((ex:run(rt, REQ, GET)))
          assert.equal(1, #rt.requests)
        end)
      end
      if rule.throttled then
        it(what .. ": only when the answer says rate limit", function()
          local ex = new()
          local rt = script.runtime():answer({ status = rule.status, json = { error = "invalid_client" } }, OK)
          local _, err = ex:run(rt, REQ, LOGIN)
          assert.equal("invalid_client", err.code)
          assert.equal(1, #rt.requests)
        end)
      end
    end

    it("no rule, no retry: a 400, a 404, a 500 are answers", function()
      for _, status in ipairs { 400, 403, 404, 409, 500 } do
        local ex = new()
        local rt = script.runtime():answer({ status = status, json = { code = "x", message = "no" } }, OK)
        local _, err = ex:run(rt, REQ, GET)
        assert.equal(status, err.status)
        assert.equal(1, #rt.requests, status)
      end
    end)

    it("an interrupted transfer is never retried", function()
      local ex = new()
      local rt = script.runtime():answer({ error = "interrupted" }, OK)
      local _, err = ex:run(rt, REQ, GET)
      assert.equal("interrupted", err.code)
      assert.equal(1, #rt.requests)
    end)
  end)

  describe("the bounds of the retries", function()
    it("max_retries: that many retries, then the last error with its attempts", function()
      local ex, stats = new { retry = { max_retries = 3, max_retry_time = 1e6, max_retry_after = 180 } }
      local rt = script.runtime()
      for _ = 1, 10 do rt:answer { status = 503, json = { code = "service.unavailable" } } end
      local _, err, meta = ex:run(rt, REQ, GET)
      assert.equal(4, #rt.requests)
      assert.equal(4, err.attempts)
      assert.equal(4, meta.attempts)
      assert.equal(3, stats.retries)
      -- the backoff doubles (jittered in [half, whole]) up to BACKOFF_MAX
      for k, w in ipairs(rt.sleeps) do
        local full = math.min(limits.BACKOFF_MAX, limits.BACKOFF_FIRST * 2 ^ (k - 1))
        assert.is_true(w >= full / 2 and w <= full, k .. ": " .. w)
      end
    end)

    it("max_retry_after: a longer Retry-After ends the retries at once", function()
      local ex = new { retry = { max_retries = 5, max_retry_time = 1e6, max_retry_after = 30 } }
      local rt = script.runtime():answer({ status = 429, headers = { ["Retry-After"] = "31" } }, OK)
      local _, err = ex:run(rt, REQ, GET)
      assert.equal(429, err.status)
      assert.equal(31, err.retry_after)
      assert.same({}, rt.sleeps)
      -- at the bound it waits
      rt = script.runtime():answer({ status = 429, headers = { ["Retry-After"] = "30" } }, OK)
      assert(ex:run(rt, REQ, GET))
      assert.same({ 30 }, rt.sleeps)
    end)

    it("max_retry_time: no wait that would end past it", function()
      local ex = new { retry = { max_retries = 5, max_retry_time = 60, max_retry_after = 180 } }
      local rt = script.runtime()
      for _ = 1, 5 do rt:answer { status = 429, headers = { ["Retry-After"] = "25" } } end
      local _, err = ex:run(rt, REQ, GET)
      assert.equal(429, err.status)
      assert.same({ 25, 25 }, rt.sleeps) -- a third wait would end at 75 s
      assert.equal(3, #rt.requests)
    end)

    it("the time a transfer takes counts toward max_retry_time", function()
      local ex = new { retry = { max_retries = 5, max_retry_time = 60, max_retry_after = 180 } }
      local rt = script.runtime():answer({ status = 503, elapse = 59.9 }, OK)
      local _, err = ex:run(rt, REQ, GET)
      assert.equal(503, err.status)
      assert.equal(1, #rt.requests)
    end)

    it("retry = false: no retry at all", function()
      local ex = new { retry = false }
      local rt = script.runtime():answer({ status = 503 }, OK)
      local _, err = ex:run(rt, REQ, GET)
      assert.equal(503, err.status)
      assert.equal(1, #rt.requests)
    end)

    it("a sleep that a signal ends ends the request", function()
      local ex = new()
      local rt = script.runtime():answer({ status = 503 }, OK)
      rt.interrupt_sleep = { code = "interrupted", message = "interrupted by SIGINT" }
      local _, err = ex:run(rt, REQ, GET)
      assert.equal("interrupted", err.code)
    end)
  end)

  describe("a 401", function()
    local function with_auth(tokens)
      local ex, stats, redact = new { retry = false }
      local logins = 0
      local a = auth_mod.new { redact = redact, login_time = 10, fetch = function()
        logins = logins + 1
        return { access_token = tokens[logins], expires_in = 3600 }
      end }
      return ex, a, function() return logins end, stats
    end

    it("logs in again once and retries once, whatever the retry settings", function()
      local ex, a, logins = with_auth { TOKEN .. "1", TOKEN .. "2" }
      local rt = script.runtime():answer({ status = 401, json = { code = "authentication.required" } }, OK)
      local data, err = ex:run(rt, REQ, GET, a)
      assert.is_nil(err)
      assert.is_true(data.ok)
      assert.equal(2, logins())
      assert.equal("Bearer " .. TOKEN .. "1", rt.requests[1].headers.authorization)
      assert.equal("Bearer " .. TOKEN .. "2", rt.requests[2].headers.authorization)
      assert.same({}, rt.sleeps)
    end)

    it("a second 401 is the answer", function()
      local ex, a, logins = with_auth { TOKEN .. "1", TOKEN .. "2", TOKEN .. "3" }
      local rt = script.runtime():answer({ status = 401 }, { status = 401 }, OK)
      local _, err = ex:run(rt, REQ, GET, a)
      assert.equal(401, err.status)
      assert.equal(2, logins())
      assert.equal(2, #rt.requests)
    end)

    it("with a fixed token there is no login to make: the 401 is the answer", function()
      local ex, _, redact = new()
      local a = auth_mod.new { access_token = TOKEN, redact = redact }
      local rt = script.runtime():answer({ status = 401 }, OK)
      local _, err = ex:run(rt, REQ, GET, a)
      assert.equal(401, err.status)
      assert.equal(1, #rt.requests)
    end)
  end)

  describe("answers", function()
    it("a 2xx is decoded; a 202 without a body is {} (still running)", function()
      local ex = new()
      local rt = script.runtime():answer({ status = 202, body = "" }, { status = 201, json = { id = "x" } })
      assert.same({}, (ex:run(rt, REQ, GET)))
      assert.equal("x", (ex:run(rt, REQ, GET)).id)
    end)

    it("a 2xx that is no JSON object is bad_json; a count no runtime holds is a bad_response, not retried", function()
      local ex = new()
      local rt = script.runtime():answer({ status = 200, body = "[1]" })
      local _, err = ex:run(rt, REQ, POST)
      assert.equal("bad_json", err.code)
      rt = script.runtime():answer({ status = 200, body = '{"n": 1e400}' }, OK)
      _, err = ex:run(rt, REQ, GET)
      assert.equal("bad_response", err.code)
      assert.equal(1, #rt.requests)
    end)

    it("a page's limits: more JSON values than it can hold, or a transfer cut at its size, are bad_responses", function()
      local ex = new()
      local page = { url = REQ.url, path = REQ.path, limits = { max_values = 10, max_size = 100, what = "a page of 1 row" } }
      local rows = {}
      for i = 1, 20 do rows[i] = i end
      local rt = script.runtime():answer({ status = 200, json = { entities = rows } })
      local _, err = ex:run(rt, page, GET)
      assert.equal("bad_response", err.code)
      assert.matches("a page of 1 row", err.message)
      assert.equal(100, rt.requests[1].max_size) -- the transfer is capped at the page's size
      rt = script.runtime():answer({ error = "too_large", message = "the body is larger than 100 bytes" })
      _, err = ex:run(rt, page, GET)
      assert.equal("bad_response", err.code)
      assert.matches("larger than 100 bytes", err.message)
    end)

    it("an error answer: code and message of the body, a default code by status, the correlation id", function()
      local ex = new()
      local rt = script.runtime():answer({ status = 404, headers = { ["ININ-Correlation-Id"] = "corr-1" }, body = "" },
                                         { status = 400, json = { code = "bad.thing", message = "no good",
                                                                  contextId = "ctx-2" } })
      local _, err = ex:run(rt, REQ, GET)
      assert.equal("not.found", err.code)
      assert.equal("corr-1", err.correlation_id)
      assert.equal("GET", err.method)
      assert.equal("/api/v2/thing", err.path)
      _, err = ex:run(rt, REQ, GET)
      assert.equal("bad.thing", err.code)
      assert.equal("no good", err.message)
      assert.equal("ctx-2", err.correlation_id)
    end)

    it("the request: Accept, the bearer token, a JSON body's type, the per-call headers, the timeouts", function()
      local ex, _, redact = new()
      local a = auth_mod.new { access_token = TOKEN, redact = redact }
      local rt = script.runtime():answer(OK)
      assert(ex:run(rt, { url = REQ.url, path = REQ.path, body = "{}", headers = { ["x-extra"] = "1" } }, POST, a))
      local r = rt.requests[1]
      assert.equal("POST", r.method)
      assert.equal("application/json", r.headers.accept)
      assert.equal("application/json", r.headers["content-type"])
      assert.equal("Bearer " .. TOKEN, r.headers.authorization)
      assert.equal("1", r.headers["x-extra"])
      assert.equal(16, r.timeout)
      assert.equal(5, r.connect_timeout)
    end)

    it("plain GETs share one header table per token; per-call headers and bodies get their own", function()
      local ex, _, redact = new()
      local a = auth_mod.new { access_token = TOKEN, redact = redact }
      local rt = script.runtime():answer(OK, OK, OK, OK)
      assert(ex:run(rt, REQ, GET, a))
      assert(ex:run(rt, { url = REQ.url, path = REQ.path, headers = { ["x-one"] = "1" } }, GET, a))
      assert(ex:run(rt, REQ, GET, a))
      assert(ex:run(rt, { url = REQ.url, path = REQ.path, body = "{}" }, POST, a))
      local h = {}
      for i, r in ipairs(rt.requests) do h[i] = r.headers end
      assert.equal(h[1], h[3])
      assert.equal("1", h[2]["x-one"])
      assert.is_nil(h[3]["x-one"])
      assert.is_nil(h[1]["content-type"])
      assert.equal("application/json", h[4]["content-type"])
      for i = 1, 4 do assert.equal("Bearer " .. TOKEN, h[i].authorization) end
    end)

    it("counts requests, retries, 429s and logins", function()
      local ex, stats = new()
      local rt = script.runtime():answer({ status = 429 }, OK)
      assert(ex:run(rt, REQ, GET))
      rt:answer(OK)
      assert(ex:run(rt, REQ, LOGIN))
      assert.same({ requests = 3, retries = 1, logins = 1, responses_429 = 1 }, {
        requests = stats.requests, retries = stats.retries, logins = stats.logins, responses_429 = stats.responses_429 })
    end)
  end)

  describe("what leaves it is redacted", function()
    it("every field of an error, meta's headers and correlation id, each log event; the data as sent", function()
      local events = {}
      local ex, _, redact = new { logger = function(level, message, fields)
        events[#events + 1] = { level = level, message = message, fields = fields }
      end }
      local rt = script.runtime():answer(
        { status = 503, headers = { ["ININ-Correlation-Id"] = "c-" .. SECRET, ["X-Echo"] = SECRET },
          json = { code = "x." .. SECRET, message = "you sent " .. SECRET, details = { { msg = SECRET } } } },
        { status = 400, headers = { ["ININ-Correlation-Id"] = SECRET, ["X-Echo"] = "a " .. SECRET },
          body = "not json, but " .. SECRET .. " and \\u0073" .. SECRET:sub(2) })
      local _, err, meta = ex:run(rt, REQ, GET)
      local seen = {}
      local function walk(v, depth)
        if depth > 20 then return end
        if type(v) == "string" then seen[#seen + 1] = v
        elseif type(v) == "table" then
          for k, x in pairs(v) do walk(k, depth + 1); walk(x, depth + 1) end
        end
      end
      walk(err, 0)
      walk(meta.headers, 0)
      assert.equal("a [REDACTED]", meta.headers["x-echo"])
      walk(meta.correlation_id, 0)
      walk(events, 0)
      assert.is_true(#seen > 10)
      for _, s in ipairs(seen) do assert.is_nil(s:find(SECRET, 1, true), s) end
      assert.truthy(tostring(err.message):find("[REDACTED]", 1, true), tostring(err.message))
      assert.equal(2, #events)
      -- a success that holds a secret: the data as sent (the library uses it), marked, out() a redacted copy
      rt:answer({ status = 200, json = { name = "x " .. SECRET } })
      local data = ex:run(rt, REQ, GET)
      assert.equal("x " .. SECRET, data.name)
      assert.equal("x [REDACTED]", redact:out(data).name)
    end)

    it("a logger that raises is dropped, the requests go on", function()
      local calls = 0
      local ex = new { logger = function() calls = calls + 1; error("broken logger") end }
      local rt = script.runtime():answer(OK, OK)
      assert(ex:run(rt, REQ, GET))
      assert(ex:run(rt, REQ, GET))
      assert.equal(1, calls)
    end)

    it("the JSON of an answer keeps arrays arrays", function()
      local ex = new()
      local rt = script.runtime():answer({ status = 200, json = { entities = json.array() } })
      local data = ex:run(rt, REQ, { name = "getUsageAggregatesQueryJob", method = "GET", idempotent = true,
                                     response = "OrganizationPublicApiUsageResultsResponse" })
      assert.equal("[]", json.encode(data.entities))
    end)
  end)
end)
