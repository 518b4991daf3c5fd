-- The client against a hostile server (spec/support/hostile.lua): URLs that smuggle credentials, servers that
-- echo secrets, page forever, send data that must never raise, and the lesser defects of issue #10.
local H = require "helper"
local usage = require "usage"
local core = require "usage.core"
local limits = require "usage.api.limits"
local hostile = require "support.hostile"

local TOKEN = "tok-" .. string.rep("Zx9", 30) -- longer than the 200 characters cut below, in parts
local SECRET = "s3cr3t-Q"                    -- 8 characters: the shortest secret usage.new accepts
local ID = "hostile-client"

-- every string reachable from v (tables walked, metatables' __tostring used for error values)
local function strings_of(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings_of(k, out, seen)
      strings_of(x, out, seen)
    end
    if usage.is_error(v) then out[#out + 1] = tostring(v) end
  end
  return out
end

-- the first secret found in any string of any of the values, or nil
local function leak(...)
  local secrets = { TOKEN, core.base64(ID .. ":" .. SECRET), "Basic " .. core.base64(ID .. ":" .. SECRET) }
  for i = 1, select("#", ...) do
    for _, s in ipairs(strings_of((select(i, ...)))) do
      for _, secret in ipairs(secrets) do
        if s:find(secret, 1, true) then return secret .. " in " .. s end
      end
      -- the first 20 characters of the token, e.g. what a cut before redaction leaves
      if s:find(TOKEN:sub(1, 20), 1, true) then return "a part of the token in " .. s end
    end
  end
  return nil
end

-- a script answering the token endpoint with TOKEN, and `api` (Lua source of function(req, state)) for the rest
local function script(api) return hostile.with_login(TOKEN, api) end

describe("against a hostile server", function()
  local srv

  setup(function()
    srv = hostile.start()
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local function client(opts)
    local o = {
      base_url = srv.base_url, client_id = ID, client_secret = SECRET,
      poll = { interval = 0.01, max_interval = 0.02, timeout = 10 },
      retry = { max_retries = 1, max_retry_time = 2, max_retry_after = 1 },
    }
    for k, v in pairs(opts or {}) do o[k] = v end
    return usage.new(o)
  end

  -- a failure of this spec says what the server saw and logged
  local function check(cond, what)
    if not cond then error((what or "assertion failed") .. "\n" .. srv:diagnostics(), 2) end
  end

  describe("URLs (#10.1)", function()
    it("refuses user credentials in base_url and login_url, whatever the host looks like", function()
      for _, url in ipairs {
        "http://127.0.0.1:x@evil.example/", "http://[::1]@evil.example/", "http://localhost:pw@evil.example/",
        "http://evil.example\\@127.0.0.1/", "https://user@api.mypurecloud.com", "http://u:p@127.0.0.1:8089",
      } do
        for _, key in ipairs { "base_url", "login_url" } do
          local ok, err = pcall(usage.new, { [key] = url, client_id = ID, client_secret = SECRET })
          assert.is_false(ok, key .. " " .. url .. " was accepted")
          assert.matches("user", tostring(err), 1, true)
          assert.is_nil(tostring(err):find(SECRET .. "@", 1, true))
        end
      end
    end)

    it("decides loopback on the host libcurl connects to", function()
      for _, url in ipairs { "http://127.0.0.1.evil.example/", "http://0x7f.evil/", "http://127.0.0.1.nip.io/",
                             "http://[::2]/", "http://localhost.evil.example/" } do
        local ok, err = pcall(usage.new, { base_url = url, access_token = "t0k3n-0k" })
        assert.is_false(ok, url .. " was accepted")
        assert.matches("plain http", tostring(err))
      end
      for _, url in ipairs { "http://evil.example#@127.0.0.1/", "http://evil.example/?127.0.0.1" } do
        local ok, err = pcall(usage.new, { base_url = url, access_token = "t0k3n-0k" })
        assert.is_false(ok, url .. " was accepted")
      end
      -- libcurl's spellings of loopback addresses are loopback
      for _, url in ipairs { "http://127.1:" .. srv.port, "http://2130706433:" .. srv.port,
                             "http://[::ffff:127.0.0.1]:1", "http://LOCALHOST:" .. srv.port } do
        assert.has_no.errors(function() usage.new { base_url = url, access_token = "t0k3n-0k" } end, url)
      end
      srv:script [[ return function() return 200, nil, '{"executionId":"e1"}' end ]]
      local c = usage.new { base_url = "http://127.1:" .. srv.port, access_token = "t0k3n-0k" }
      check(c:postUsageQuery { interval = H.I }, "http://127.1 did not reach 127.0.0.1")
    end)

    it("sends no credential through a proxy to a plain-http host (the leak of #10.1)", function()
      -- the hostile server plays a logging proxy: before the fix libcurl sent the Basic credentials to it
      srv:script [[ return function(req) return 200, nil, '{"access_token":"x","expires_in":60}' end ]]
      local ok = pcall(function()
        local c = usage.new { base_url = "http://127.0.0.1:x@evil.example/", client_id = ID, client_secret = SECRET,
                              proxy = srv.base_url, retry = false }
        c:postUsageQuery { interval = H.I }
      end)
      assert.is_false(ok)
      check(#srv:log() == 0, "a request went out")
    end)

    it("refuses a plain-http API through a proxy that is not on loopback", function()
      local ok, err = pcall(usage.new, { base_url = srv.base_url, access_token = "t0k3n-0k", proxy = "http://proxy.example:3128" })
      assert.is_false(ok)
      assert.matches("proxy", tostring(err))
      assert.has_no.errors(function()
        usage.new { base_url = srv.base_url, access_token = "t0k3n-0k", proxy = "http://127.0.0.1:3128" }
        usage.new { base_url = "https://api.example.com", access_token = "t0k3n-0k", proxy = "http://proxy.example:3128" }
      end)
      ok, err = pcall(usage.new, { base_url = "https://api.example.com", access_token = "t0k3n-0k", proxy = "not a url" })
      assert.is_false(ok)
      assert.matches("proxy", tostring(err))
    end)

    it("ignores proxies from the environment for a plain-http API", function()
      -- http_proxy is read by libcurl; a loopback API must be reached directly (see docs/hardening.md);
      -- checked through the session option the client sets
      local c = usage.new { base_url = srv.base_url, access_token = "t0k3n-0k" }
      assert.is_true(c.transport_options.no_env_proxy)
      local tls = usage.new { base_url = "https://api.example.com", access_token = "t0k3n-0k" }
      assert.is_falsy(tls.transport_options.no_env_proxy)
    end)
  end)

  describe("echoed secrets (#10.2)", function()
    it("are redacted from every field of the error, the meta and the log, however short or cut", function()
      srv:script(script [[
        return function(req)
          local auth = req.headers.authorization or ""
          local long = string.rep("x", 190) .. auth
          return 401, { ["ININ-Correlation-Id"] = auth, ["X-Echo"] = auth }, require("cjson").encode {
            message = "no: " .. auth, code = "bad.credentials", contextId = auth, status = 401,
            details = { { errorCode = auth, fieldName = "s3" } }, errors = { { message = long } },
            messageParams = { deep = { deeper = { auth } } },
          }
        end]])
      local events, logger = H.recorder()
      local c = client { logger = logger }
      local data, err, meta = c:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      check(err and err.status == 401, "no 401: " .. tostring(err))
      assert.equal("bad.credentials", err.code)
      local found = leak(err, meta and meta.headers, meta and meta.correlation_id, events)
      check(found == nil, "leaked: " .. tostring(found))
      assert.matches("REDACTED", err.message, 1, true)
      assert.matches("REDACTED", tostring(err), 1, true)
    end)

    it("are redacted from a message cut to 200 characters and from non-JSON bodies", function()
      srv:script(script [[
        return function(req)
          return 500, nil, string.rep("y", 150) .. (req.headers.authorization or "") .. " trailing"
        end]])
      local c = client { retry = false }
      local _, err = c:postUsageQuery { interval = H.I }
      check(err and err.status == 500, tostring(err))
      local found = leak(err)
      check(found == nil, "leaked: " .. tostring(found))
    end)

    it("are redacted from a failed query's errorBody, message included", function()
      srv:script(script [[
        return function(req)
          local auth = req.headers.authorization or ""
          if req.method == "POST" then return 200, nil, '{"id":"job1"}' end
          return 200, nil, require("cjson").encode { queryStatus = "Failed",
            errorBody = { message = "job broke for " .. auth, code = "x", contextId = auth } }
        end]])
      local c = client()
      local rows, err = c:aggregates({ interval = H.DAYS }):all()
      assert.is_nil(rows)
      check(err and err.code == "query_failed", tostring(err))
      local found = leak(err)
      check(found == nil, "leaked: " .. tostring(found))
    end)

    it("are redacted from successful data and its headers too", function()
      srv:script(script [[
        return function(req)
          local auth = req.headers.authorization or ""
          return 200, { ["ININ-Correlation-Id"] = auth }, '{"executionId":"' .. auth .. '"}'
        end]])
      local c = client()
      local data, err, meta = c:postUsageQuery { interval = H.I }
      check(data, tostring(err))
      local found = leak(data, meta.headers, meta.correlation_id)
      check(found == nil, "leaked: " .. tostring(found))
    end)

    it("are redacted when the server escapes them in JSON strings", function()
      srv:script(script [[
        return function(req)
          local auth = (req.headers.authorization or ""):sub(8)
          local escaped = auth:gsub(".", function(ch) return string.format("\\u%04x", ch:byte()) end)
          return 400, nil, '{"message":"token ' .. escaped .. '","code":"bad.request"}'
        end]])
      local _, err = client():postUsageQuery { interval = H.I }
      check(err and err.status == 400, tostring(err))
      local found = leak(err)
      check(found == nil, "leaked: " .. tostring(found))
    end)
  end)

  describe("endless answers (#10.3)", function()
    it("ends a job that keeps answering empty pages with fresh cursors", function()
      srv:script(script [[
        return function(req, state)
          if req.method == "POST" then return 200, nil, '{"id":"job1"}' end
          state.k = (state.k or 0) + 1
          if state.k > 300 then return 500, nil, '{"message":"the spec gave up: 300 pages"}' end -- bounded
          return 200, nil, '{"queryStatus":"Succeeded","entities":[],"nextUri":"/api/v2/usage/aggregates/query/jobs/job1?after=c' ..
            state.k .. '"}'
        end]])
      local rows, err = client():aggregates({ interval = H.DAYS }):all()
      assert.is_nil(rows)
      check(err and err.code == "bad_response", tostring(err))
      assert.matches("empty page", err.message)
      check(#srv:log() < 40, #srv:log() .. " requests")
    end)

    it("ends a search that keeps answering empty pages with fresh cursors", function()
      srv:script(script [[
        return function(req, state)
          if req.method == "POST" then return 200, nil, '{"executionId":"e1"}' end
          state.k = (state.k or 0) + 1
          if state.k > 300 then return 500, nil, '{"message":"the spec gave up: 300 pages"}' end -- bounded
          return 200, nil, '{"queryStatus":"Complete","results":[],"cursors":{"after":"c' .. state.k .. '"}}'
        end]])
      local rows, err = client():search({ interval = H.I }):all()
      assert.is_nil(rows)
      check(err and err.code == "bad_response", tostring(err))
      check(#srv:log() < 40, #srv:log() .. " requests")
    end)
  end)

  describe("server data never raises (#10.5, #10.6, #10.8)", function()
    local function job(result)
      srv:script(script([[
        return function(req, state)
          if req.method == "POST" then return 200, nil, '{"id":"job1"}' end
          return 200, nil, ]] .. string.format("%q", result) .. [[
        end]]))
      return client():aggregates({ interval = H.DAYS })
    end

    it("a nextUri with an encoded CR/LF is followed as given, still encoded (no header injection)", function()
      local rows, err = job('{"queryStatus":"Succeeded","entities":[{"requestCount":1}],' ..
                            '"nextUri":"/api/v2/usage/aggregates/query/jobs/job1?after=%0d%0aX-Evil:%201"}'):all()
      assert.is_nil(rows)
      check(err and err.code == "cursor_loop", tostring(err)) -- the same nextUri again
      local log = srv:log()
      local last = log[#log]
      check(last.query:find("after=%0d%0aX-Evil:%201", 1, true) ~= nil, "not followed as given: " .. last.query)
      check(last.headers["x-evil"] == nil, "a header was injected")
    end)

    it("a raw CR/LF in nextUri is a bad_response", function()
      local rows, err = job('{"queryStatus":"Succeeded","entities":[{"requestCount":1}],' ..
                            '"nextUri":"/api/v2/usage/aggregates/query/jobs/job1?after=a\\r\\nX-Evil: 1"}'):all()
      assert.is_nil(rows)
      check(err and err.code == "bad_response", tostring(err))
    end)

    it("a search cursor that is not a string is a bad_response", function()
      srv:script(script [[
        return function(req)
          if req.method == "POST" then return 200, nil, '{"executionId":"e1"}' end
          return 200, nil, '{"queryStatus":"Complete","results":[{"requests":1}],"cursors":{"after":{"x":1}}}'
        end]])
      local rows, err = client():search({ interval = H.I }):all()
      assert.is_nil(rows)
      check(err and err.code == "bad_response", tostring(err))
    end)

    it("an infinite count is refused, not returned and not raised", function()
      local pager = job('{"queryStatus":"Succeeded","entities":[{"requestCount":1e400}]}')
      local rows, err = pager:all()
      assert.is_nil(rows)
      check(err and err.code == "bad_response", tostring(err)) -- the server's data: not retried
      assert.matches("number", err.message)
      local gets = 0
      for _, e in ipairs(srv:log()) do if e.method == "GET" then gets = gets + 1 end end
      check(gets == 1, gets .. " reads of the page")
    end)

    it("entities that are not an array are a bad_response", function()
      local rows, err = job('{"queryStatus":"Succeeded","entities":"notarray"}'):all()
      assert.is_nil(rows)
      check(err and err.code == "bad_response", tostring(err))
    end)

    it("a queryStatus that is not a string is a bad_response", function()
      local rows, err = job('{"queryStatus":{"a":1},"entities":[]}'):all()
      assert.is_nil(rows)
      check(err and err.code == "bad_response", tostring(err))
      assert.is_nil(err.message:find("table: 0x", 1, true))
    end)

    it("a top-level JSON array is not data", function()
      srv:script(script [[ return function() return 200, nil, '[{"executionId":"e1"}]' end ]])
      local data, err = client { retry = false }:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      check(err and err.code == "bad_json", tostring(err))
    end)

    it("a 1 MB header line is reported as too large, not as out of memory", function()
      srv:script(script [[ return function() return 200, { ["X-Big"] = string.rep("a", 1024 * 1024) }, '{}' end ]])
      local data, err = client { retry = false }:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      check(err and err.code == "too_large", tostring(err))
      assert.matches("header", err.message)
    end)
  end)

  describe("polls", function()
    it("wait at least the Retry-After of a 200 'still running' answer", function()
      srv:script(script [[
        return function(req, state)
          if req.method == "POST" then return 200, nil, '{"executionId":"e1"}' end
          state.polls = (state.polls or 0) + 1
          if state.polls == 1 then return 200, { ["Retry-After"] = "1" }, '{"queryStatus":"Running"}' end
          return 200, nil, '{"queryStatus":"Complete","results":[]}'
        end]])
      local result, err = client():query { interval = H.I }
      check(result, tostring(err))
      local gets = {}
      for _, e in ipairs(srv:log()) do
        if e.method == "GET" then gets[#gets + 1] = e end
      end
      check(#gets == 2, #gets .. " polls")
      check(gets[2].time - gets[1].time >= 0.9, "the second poll came after " .. (gets[2].time - gets[1].time) .. " s")
    end)
  end)

  describe("ids and bodies (#10.7, #10.8)", function()
    it("checks ids of the flows like those of the operations: at once, before anything is sent", function()
      srv:script(script [[ return function() return 500, nil, '{}' end ]]) -- (and a fresh request log)
      local c = client()
      for _, bad in ipairs { "bad\nid", string.rep("x", 2000), "", "..", 42 } do
        assert.has_error(function() c:client_aggregates(bad, { interval = H.DAYS }) end)
        assert.has_error(function() c:client_query(bad, { interval = H.I }) end)
        assert.has_error(function() c:client_summary(bad) end)
        assert.has_error(function() c:postUsageClientClientIdAggregatesQueryJobs(bad, { interval = H.DAYS }) end)
      end
      local ok, err = pcall(c.client_aggregates, c, "bad\nid", { interval = H.DAYS })
      assert.is_false(ok)
      assert.matches("clientId", tostring(err))
      assert.equal(0, #srv:log())
    end)

    it("reads body fields as they are, not through __index", function()
      srv:script(script [[ return function() return 200, nil, '{"executionId":"e1"}' end ]])
      local body = setmetatable({}, { __index = { interval = H.I } })
      local data, err = client():postUsageQuery(body)
      assert.is_nil(data)
      check(err and err.code == "validation", tostring(err))
      assert.matches("interval", err.message)
      assert.equal(0, #srv:log())
    end)

    it("says how to call close with a dot", function()
      local c = client()
      local ok, err = pcall(c.close)
      assert.is_false(ok)
      assert.matches("client:close", tostring(err))
    end)
  end)

  -------------------------------------------------------------------------------------------------
  -- round two (#17): credentials in every form, values the library uses, short secrets, the base
  -- path, endless and oversized pages, server numbers that drive waits, counts beyond 2^53

  -- the GET requests the server saw
  local function gets()
    local n = 0
    for _, e in ipairs(srv:log()) do if e.method == "GET" then n = n + 1 end end
    return n
  end

  -- a job script: the submit answers job1, every GET answers page(req, state) (Lua source of a function body)
  local function job_script(page)
    srv:script(script([[
      return function(req, state)
        if req.method == "POST" then return 200, nil, '{"id":"job1"}' end
        state.k = (state.k or 0) + 1
        if state.k > 2000 then return 500, nil, '{"message":"the spec gave up: 2000 pages"}' end -- bounded
        ]] .. page .. [[
      end]]))
  end

  describe("proxy credentials in every form libcurl sends (#17.1, #17.2)", function()
    local PUSER, PPASS_RAW, PPASS = "proxy-user", "p%40ss%2fW0rd", "p@ss/W0rd" -- libcurl sends the decoded form

    -- the hostile server plays the proxy (a plain-http API on loopback may be reached through a loopback
    -- proxy) and echoes Proxy-Authorization, decoded and re-encoded, in the body, headers and context id
    local function proxied()
      srv:script(script [[
        return function(req)
          local pa = req.headers["proxy-authorization"] or ""
          local userpass = ngx.decode_base64(pa:match("^Basic (.*)$") or "") or ""
          local pass = userpass:match("^[^:]*:(.*)$") or ""
          local enc = pass:gsub("[^%w%-%._~]", function(ch) return string.format("%%%02x", ch:byte()) end)
          local ENC = pass:gsub("[^%w%-%._~]", function(ch) return string.format("%%%02X", ch:byte()) end)
          local escaped = pass:gsub(".", function(ch) return string.format("\\u%04x", ch:byte()) end)
          return 400, { ["ININ-Correlation-Id"] = pa, ["X-Echo"] = userpass, ["X-Enc"] = enc .. " " .. ENC },
            '{"code":"bad.request","message":"proxy saw ' .. pa .. '","contextId":"' .. pass .. '",' ..
            '"details":[{"errorCode":"' .. userpass .. '","fieldName":"' .. enc .. '"}],' ..
            '"errors":[{"message":"' .. escaped .. ' ' .. ENC .. '"}]}'
        end]])
      local events, logger = H.recorder()
      local c = client { proxy = "http://" .. PUSER .. ":" .. PPASS_RAW .. "@127.0.0.1:" .. srv.port,
                         retry = false, logger = logger }
      local data, err, meta = c:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      check(err and err.status == 400, "no 400: " .. tostring(err))
      local sent = srv:log()[1].headers["proxy-authorization"]
      check(sent == "Basic " .. core.base64(PUSER .. ":" .. PPASS), "libcurl sent " .. tostring(sent))
      return { err, tostring(err), meta and meta.headers, meta and meta.correlation_id, events }
    end

    local function leaked(values, forms)
      for _, v in ipairs(values) do
        for _, s in ipairs(strings_of(v)) do
          for _, form in ipairs(forms) do
            if s:find(form, 1, true) then return form .. " in " .. s end
          end
        end
      end
    end

    it("redacts Proxy-Authorization's Basic base64(user:password) everywhere (#17.1)", function()
      local found = leaked(proxied(), { core.base64(PUSER .. ":" .. PPASS), PUSER .. ":" .. PPASS })
      check(found == nil, "leaked: " .. tostring(found))
    end)

    it("redacts the proxy password decoded (as libcurl sends it) and percent-encoded (#17.2)", function()
      local found = leaked(proxied(), { PPASS, PPASS_RAW, "p%40ss%2FW0rd" })
      check(found == nil, "leaked: " .. tostring(found))
    end)
  end)

  describe("values the library uses are never redacted, only what leaves it (#17.3)", function()
    it("a token refresh that returns the same access_token keeps working", function()
      srv:script([[
        local TOKEN = ]] .. string.format("%q", TOKEN) .. [[
        return function(req, state)
          if req.path == "/oauth/token" then
            state.logins = (state.logins or 0) + 1
            return 200, nil, '{"access_token":"' .. TOKEN .. '","token_type":"bearer","expires_in":3600}'
          end
          if state.logins < 2 then return 401, nil, '{"code":"bad.credentials","message":"revoked"}' end
          if req.headers.authorization ~= "Bearer " .. TOKEN then
            return 401, nil, '{"code":"bad.credentials","message":"not the token I gave"}'
          end
          return 200, nil, '{"executionId":"e1"}'
        end]])
      local c = client()
      for i = 1, 2 do
        local data, err = c:postUsageQuery { interval = H.I }
        check(data and data.executionId == "e1", "call " .. i .. ": " .. tostring(err))
      end
      assert.equal(2, c:stats().logins)
      for _, e in ipairs(srv:log()) do
        if e.path ~= "/oauth/token" then
          check(e.headers.authorization == "Bearer " .. TOKEN, "sent " .. tostring(e.headers.authorization))
        end
      end
    end)

    it("a job id and a nextUri holding the token are used as given; rows and pager.id are redacted", function()
      srv:script(script [[
        return function(req)
          local tok = (req.headers.authorization or ""):sub(8)
          if req.method == "POST" then return 200, nil, '{"id":"job-' .. tok .. '"}' end
          if req.path ~= "/api/v2/usage/aggregates/query/jobs/job-" .. tok then
            return 404, nil, '{"code":"not.found","message":"no such job"}'
          end
          if not req.query:find("after=", 1, true) then
            return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":1,"templateUri":"/x/' .. tok ..
              '"}],"nextUri":"/api/v2/usage/aggregates/query/jobs/job-' .. tok .. '?after=' .. tok .. '"}'
          end
          if not req.query:find("after=" .. tok, 1, true) then
            return 400, nil, '{"code":"bad.request","message":"not the cursor I gave"}'
          end
          return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":2}]}'
        end]])
      local seen = {}
      local p = client():aggregates({ interval = H.DAYS }, { on_progress = function(e) seen[#seen + 1] = e end })
      local rows, err = p:all()
      check(rows, tostring(err))
      assert.equal(2, #rows)
      assert.equal("/x/[REDACTED]", rows[1].templateUri)
      assert.equal("job-[REDACTED]", p.id)
      local found = leak(rows, p.id, p.jobs, seen)
      check(found == nil, "leaked: " .. tostring(found))
    end)
  end)

  describe("secrets too short to redact safely (#17.4)", function()
    it("usage.new refuses a client secret, access token or proxy password under 8 bytes", function()
      for _, o in ipairs {
        { client_id = ID, client_secret = "e" }, { client_id = ID, client_secret = "1234567" },
        { access_token = "t" }, { access_token = "abcdefg" },
        { access_token = "t0k3n-0k", proxy = "http://u:pw@127.0.0.1:3128" },
        { access_token = "t0k3n-0k", proxy = "http://u:%41%42@127.0.0.1:3128" },
      } do
        o.base_url = srv.base_url
        local ok, err = pcall(usage.new, o)
        assert.is_false(ok, "accepted: " .. tostring(o.client_secret or o.access_token or o.proxy))
        assert.matches("too short", tostring(err))
        assert.matches("8", tostring(err))
      end
      assert.has_no.errors(function()
        usage.new { base_url = srv.base_url, client_id = ID, client_secret = "12345678" }
        usage.new { base_url = srv.base_url, access_token = "t0k3n-0k", proxy = "http://u:p4ssw0rd@127.0.0.1:3128" }
      end)
    end)

    it("a token of one character from the server is refused: never sent, no data corrupted", function()
      srv:script [[
        return function(req)
          if req.path == "/oauth/token" then return 200, nil, '{"access_token":"e","expires_in":3600}' end
          if req.method == "POST" then return 200, nil, '{"id":"job1"}' end
          return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":1,"templateUri":"/e"}]}'
        end]]
      local rows, err = client():aggregates({ interval = H.DAYS }):all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "bad_token_response", tostring(err))
      assert.matches("too short", err.message)
      for _, e in ipairs(srv:log()) do
        check(e.path == "/oauth/token", "a request went out with that token: " .. e.method .. " " .. e.path)
      end
    end)

    it("the redactor never cuts a secret under 8 bytes out of other text, keys or values", function()
      local r = require("usage.base.redact").new()
      r:add("e")
      local v = { entities = { { templateUri = "/api/v2/users/me", requestCount = 1 } }, e = "e" }
      local out = r:copy(v)
      assert.equal("/api/v2/users/me", out.entities[1].templateUri)
      assert.equal(1, out.entities[1].requestCount)
      assert.equal("[REDACTED]", out.e) -- a value that is the whole secret
      assert.equal("e", v.e)            -- the original is untouched
      assert.equal("the message", r:text("the message"))
    end)
  end)

  describe("the token stays on the API's origin and base path (#17.5)", function()
    local function gateway(next_uri, status, headers)
      srv:script([[
        local NEXT, STATUS, HEADERS = ]] .. string.format("%q, %d, %s", next_uri or "", status or 200,
                                                          headers or "nil") .. [[
        return function(req)
          if req.path == "/gw/oauth/token" then
            return 200, nil, '{"access_token":"tok-gateway-0123456789","expires_in":3600}'
          end
          if req.path == "/gw/api/v2/usage/aggregates/query/jobs" then return 200, nil, '{"id":"job1"}' end
          if req.path == "/gw/api/v2/usage/aggregates/query/jobs/job1" and req.query == "pageSize=1000" then
            return STATUS, HEADERS and HEADERS(req) or nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":1}],' ..
              '"nextUri":"' .. NEXT:gsub("ORIGIN", req.origin) .. '"}'
          end
          return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":666}]}'
        end]])
      local rows, err = client({ base_url = srv.base_url .. "/gw" }):aggregates({ interval = H.DAYS }):all()
      local outside = {}
      for _, e in ipairs(srv:log()) do
        if e.path:sub(1, 4) ~= "/gw/" or e.path:find("/gw/evil", 1, true) then
          outside[#outside + 1] = e.method .. " " .. e.path .. " (" .. tostring(e.headers.authorization) .. ")"
        end
      end
      return rows, err, outside
    end

    it("a nextUri on another path of the same origin is not followed: /gw-evil, encoded dots and slashes", function()
      for _, uri in ipairs {
        "ORIGIN/gw-evil/api/v2/usage/aggregates/query/jobs/job1?after=x",
        "ORIGIN/gw/%2e%2e/evil/api/v2/usage/aggregates/query/jobs/job1?after=x",
        "ORIGIN/gw/api/%2E%2E/%2e%2e/%2e%2e/evil?after=x",
        "ORIGIN/gw%2f..%2fevil?after=x",
        "ORIGIN/gw/.%2e/evil?after=x",
        "/../evil/x?after=x",
      } do
        local rows, err, outside = gateway(uri)
        check(#outside == 0, uri .. ": the token went to " .. table.concat(outside, ", "))
        assert.is_nil(rows, uri)
        check(err and err.code == "bad_response", uri .. ": " .. tostring(err))
      end
      -- the base path itself and below it are followed
      local rows, err, outside = gateway("ORIGIN/gw/api/v2/usage/aggregates/query/jobs/job1?after=x")
      check(rows and #rows == 2 and #outside == 0, tostring(err))
    end)

    it("a redirect is never followed (the token would go along)", function()
      local rows, err, outside = gateway("", 307, [[function(req) return { Location = req.origin .. "/evil" } end]])
      check(#outside == 0, "followed: " .. table.concat(outside, ", "))
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.status == 307, tostring(err))
    end)
  end)

  describe("endless pages (#17.8)", function()
    local flows = require "usage.flows"

    it("a job that keeps answering one row and a fresh nextUri ends after max_pages pages", function()
      job_script [[
        return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":1}],' ..
          '"nextUri":"/api/v2/usage/aggregates/query/jobs/job1?after=c' .. state.k .. '"}'
      ]]
      local p = client():aggregates({ interval = H.DAYS }, { max_pages = 25 })
      local rows, err = p:all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "bad_response", tostring(err))
      assert.matches("25 pages", err.message)
      check(gets() <= 26, gets() .. " pages read")
      assert.equal(25, p.page_count)
      -- the default: documented in docs/hardening.md with its arithmetic
      assert.equal(100000, limits.MAX_PAGES)
      assert.has_error(function() client():aggregates({ interval = H.DAYS }, { max_pages = 0 }) end)
    end)

    it("remembers only the last CURSOR_MEMORY cursors: a longer cycle ends at max_pages", function()
      local saved = limits.CURSOR_MEMORY
      finally(function() limits.CURSOR_MEMORY = saved end)
      limits.CURSOR_MEMORY = 8
      job_script [[
        return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":1}],' ..
          '"nextUri":"/api/v2/usage/aggregates/query/jobs/job1?after=c' .. (state.k % 12) .. '"}'
      ]]
      local rows, err = client():aggregates({ interval = H.DAYS }, { max_pages = 40 }):all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "bad_response", tostring(err)) -- not cursor_loop: the cycle outgrew the memory
      assert.matches("40 pages", err.message)
      job_script [[
        return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":1}],' ..
          '"nextUri":"/api/v2/usage/aggregates/query/jobs/job1?after=c' .. (state.k % 5) .. '"}'
      ]]
      rows, err = client():aggregates({ interval = H.DAYS }, { max_pages = 40 }):all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "cursor_loop", tostring(err))
      check(gets() <= 7, gets() .. " pages read")
    end)
  end)

  describe("pages larger than asked (#17.9)", function()
    it("more entities than the page size asked for is a bad_response", function()
      job_script [[
        local e = {}
        for i = 1, 11 do e[i] = '{"requestCount":' .. i .. '}' end
        return 200, nil, '{"queryStatus":"Succeeded","entities":[' .. table.concat(e, ",") .. ']}'
      ]]
      local rows, err = client():aggregates({ interval = H.DAYS }, { page_size = 10 }):all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "bad_response", tostring(err))
      assert.matches("11", err.message)
      assert.matches("10", err.message)
    end)

    it("a page of 200,000 empty entities (page size 10) is refused before it is decoded", function()
      job_script [[
        return 200, nil, { '{"queryStatus":"Succeeded","entities":[', string.rep("{},", 200000), '{}]}' }
      ]]
      local rows, err = client():aggregates({ interval = H.DAYS }, { page_size = 10 }):all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "bad_response", tostring(err))
      check(gets() == 1, gets() .. " reads")
    end)

    it("a page whose values outnumber what its rows can hold is refused by the C bridge", function()
      job_script [[
        return 200, nil, { '{"queryStatus":"Succeeded","entities":[{"x":[', string.rep("0,", 15000), '0]}]}' }
      ]]
      local rows, err = client():aggregates({ interval = H.DAYS }, { page_size = 10 }):all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "bad_response", tostring(err))
      assert.matches("values", err.message)
    end)

    it("a one-row page of 2 MB is cut off at the page's byte cap", function()
      job_script [[
        return 200, nil, { '{"queryStatus":"Succeeded","entities":[{"templateUri":"', string.rep("a", 2 * 1024 * 1024),
                           '"}]}' }
      ]]
      local rows, err = client():aggregates({ interval = H.DAYS }, { page_size = 1 }):all()
      check(rows == nil, "rows returned: " .. (rows and #rows or 0))
      check(err and err.code == "bad_response", tostring(err))
      assert.matches("bytes", err.message)
    end)
  end)

  describe("server numbers that drive waits (#17.10)", function()
    it("a Retry-After past int64 is much later: past max_retry_after, no retry", function()
      assert.is_true(core.parse_retry_after("99999999999999999999") >= 1e19)
      assert.is_true(core.parse_retry_after(" 1" .. string.rep("0", 400) .. " ") >= 1e300)
      assert.equal(7, core.parse_retry_after("0000000000000000000000007"))
      assert.is_nil(core.parse_retry_after("-1"))
      srv:script(script [[
        return function() return 429, { ["Retry-After"] = "99999999999999999999" }, '{"message":"slow down"}' end
      ]])
      local c = client { retry = { max_retries = 3, max_retry_time = 30, max_retry_after = 5 } }
      local data, err = c:postUsageQuery { interval = H.I }
      assert.is_nil(data)
      check(err and err.status == 429, tostring(err))
      check(err.retry_after and err.retry_after >= 1e19, tostring(err.retry_after))
      local posts = 0
      for _, e in ipairs(srv:log()) do if e.path ~= "/oauth/token" then posts = posts + 1 end end
      check(posts == 1, posts .. " attempts")
    end)

    it("a token that expires at once (expires_in 0.001, 0, -5, 1e-300) does not make a login per request", function()
      for _, expires_in in ipairs { "0.001", "0", "-5", "1e-300" } do
        srv:script([[
          return function(req)
            if req.path == "/oauth/token" then
              return 200, nil, '{"access_token":"tok-short-lived-0123456789","expires_in":]] .. expires_in .. [[}'
            end
            return 200, nil, '{"executionId":"e1"}'
          end]])
        local c = client()
        for _ = 1, 20 do assert(c:postUsageQuery { interval = H.I }) end
        check(c:stats().logins == 1, "expires_in " .. expires_in .. ": " .. c:stats().logins .. " logins")
      end
    end)
  end)

  describe("counts beyond 2^31 and 2^53 (numbers from the server)", function()
    local json = require "usage.base.json"
    local integers = math.type ~= nil -- Lua 5.3+: int64 integers; LuaJIT: doubles

    local function page_of(count)
      job_script([[ return 200, nil, '{"queryStatus":"Succeeded","entities":[{"requestCount":]] .. count .. [[}]}' ]])
      return client():aggregates({ interval = H.DAYS }):all()
    end

    it("are exact on both interpreters up to 2^53", function()
      for _, text in ipairs { "2147483649", "4294967297", "9007199254740991", "9007199254740992" } do
        local rows, err = page_of(text)
        check(rows, text .. ": " .. tostring(err))
        assert.equal(text, string.format("%.0f", rows[1].requestCount))
        if integers then assert.equal("integer", math.type(rows[1].requestCount)) end
      end
    end)

    it("above 2^53: exact int64 on Lua 5.3/5.4, a bad_response on LuaJIT, never rounded", function()
      for _, text in ipairs { "9007199254740993", "12345678901234567", "9223372036854775807", "-9223372036854775808" } do
        local rows, err = page_of(text)
        if integers then
          check(rows, text .. ": " .. tostring(err))
          assert.equal("integer", math.type(rows[1].requestCount))
          assert.equal(text, string.format("%d", rows[1].requestCount))
        else
          assert.is_nil(rows, text)
          check(err and err.code == "bad_response", text .. ": " .. tostring(err))
          assert.matches("2%^53", err.message)
        end
      end
    end)

    it("beyond int64, or above 2^53 written with a fraction or an exponent: a bad_response everywhere", function()
      for _, text in ipairs { "9223372036854775808", "-9223372036854775809", "100000000000000000000000",
                              "1.7e308", "1e17", "-1.0e16", "1e400" } do
        local rows, err = page_of(text)
        assert.is_nil(rows, text)
        check(err and err.code == "bad_response", text .. ": " .. tostring(err))
        local gets_ = gets()
        check(gets_ == 1, text .. ": read " .. gets_ .. " times") -- the server's data: not retried
      end
      -- the same through usage.json, deep in a value and in arrays
      for _, text in ipairs { '{"a":[1,{"b":[9223372036854775808]}]}', '[1.5e300]', '{"x":{"y":-1e20}}' } do
        local v, why = json.decode(text)
        assert.is_nil(v, text)
        assert.matches("out of range", why)
      end
      -- strings that look like what the bridge makes of long literals stay strings
      if integers then
        local marks = {}
        for c = 0, 5 do marks[#marks + 1] = string.format('"\\u%04x1234567890123456"', c) end
        local v = assert(json.decode('{"a":[' .. table.concat(marks, ",") .. '],"b":12345678901234567,' ..
                                     '"c":"\\n12345678901234567\\t"}'))
        for c = 0, 5 do assert.equal(string.char(c) .. "1234567890123456", v.a[c + 1]) end
        assert.equal("12345678901234567", string.format("%d", v.b))
        assert.equal("\n12345678901234567\t", v.c)
      end
    end)
  end)
end)
