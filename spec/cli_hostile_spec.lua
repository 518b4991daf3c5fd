-- genesys-usage against a hostile server and a careless caller (issue #10, the command line's part):
-- signals end a run within a second and leave no partial file, a bad client id is a usage error, the
-- plain-http refusal speaks to command-line users, secrets a server echoes never reach stderr or stdout
-- (also with --verbose), and an infinite count never crashes the JSON formats.

local hostile = require "support.hostile"
local nginx = require "support.nginx"
local support = require "support.cli"
local core = require "usage.core"

local TOKEN = "tok-" .. string.rep("Hq7", 30)
local ID, SECRET = "hostile-cli-client", "hostile-Secret-7Zq"
local BASIC = core.base64(ID .. ":" .. SECRET)

-- a script answering the login with TOKEN and the rest with `api` (Lua source of function(req, state))
local function script(api) return hostile.with_login(TOKEN, api) end

-- a job that is accepted and then never finishes; `headers` go with every poll answer
local function endless_job(headers)
  return script([[
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-1","selfUri":"/x"}' end
  return 200, ]] .. headers .. [[, '{"queryStatus":"Running"}'
end]])
end

describe("genesys-usage against a hostile server", function()
  local srv, t

  setup(function()
    srv = hostile.start()
    t = support.new { base_url = srv.base_url, client_id = ID, client_secret = SECRET }
  end)

  teardown(function()
    if srv then srv:stop() end
    if t then t:cleanup() end
  end)

  local function check(cond, r, what)
    if not cond then error((what or "assertion failed") .. "\n" .. support.show(r) .. "\n" .. srv:diagnostics(), 2) end
  end

  ------------------------------------------------------------------------------------------------
  describe("signals (#10.4)", function()
    -- start a run that waits on a job, send the signal(s) once the job started, see it end
    local function interrupt(signals, opts)
      srv:script(opts.script)
      local out = t:path("out-" .. signals[1] .. ".csv")
      local args = { "aggregates", "--last", "3d", "--output", out, "--poll-timeout", "3600", "--verbose" } -- (ids: --verbose)
      for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
      local p = t:spawn(args, { raw = true })
      local started = p:wait_for(opts.ready or "job job%-1 started", 20)
      local r = { args = args, err = p:stderr(), code = nil }
      if not started then
        p:stop()
        check(false, r, "the run never got to the job")
      end
      nginx.sleep(0.3) -- inside the wait (or the transfer) now
      local t0 = nginx.now()
      for i, sig in ipairs(signals) do
        if i > 1 then nginx.sleep(0.05) end
        p:signal(sig)
      end
      local code = p:wait(10)
      local took = nginx.now() - t0
      r.code, r.err = code, p:stderr()
      if not code then p:stop() end
      check(code ~= nil, r, "still running 10 s after the signal")
      return r, took, out
    end

    local cases = {
      { { "INT" }, 130, "a 30 s poll interval", { script = endless_job("nil"), args = { "--poll-interval", "30" } } },
      { { "INT" }, 130, "Retry-After: 100000 on a poll",
        { script = endless_job('{ ["Retry-After"] = "100000" }'), args = { "--poll-interval", "0.01" } } },
      { { "TERM" }, 143, "a 30 s poll interval", { script = endless_job("nil"), args = { "--poll-interval", "30" } } },
      { { "HUP" }, 129, "a 30 s poll interval", { script = endless_job("nil"), args = { "--poll-interval", "30" } } },
      { { "INT", "INT" }, 130, "a second Ctrl-C", { script = endless_job("nil"), args = { "--poll-interval", "30" } } },
      { { "INT" }, 130, "a transfer that stalls for a minute", {
        script = script([[return function(req)
          if req.method == "POST" then return 200, nil, '{"id":"job-1"}' end
          return { sleep = 60, ["then"] = { status = 200, body = '{"queryStatus":"Running"}' } }
        end]]), args = { "--poll-interval", "0.01", "--timeout", "120" } } },
    }
    for _, case in ipairs(cases) do
      it(string.format("SIG%s during %s: exit %d within a moment, one line, no partial file",
                       table.concat(case[1], " + SIG"), case[3], case[2]), function()
        local r, took, out = interrupt(case[1], case[4])
        check(r.code == case[2], r, "exit status " .. tostring(r.code) .. ", expected " .. case[2])
        check(took < 10, r, string.format("took %.1f s", took)) -- (the poll interval is 30 s, Retry-After a day)
        check(r.err:find("genesys-usage: interrupted (SIG" .. case[1][1] .. ")", 1, true), r, "no interrupted line")
        check(#support.temp_files(t.dir) == 0, r, "partial files left: " .. table.concat(support.temp_files(t.dir), " "))
        check(nginx.read_file(out) == nil, r, "the output file exists")
        check(support.no_trace(r), r, "a Lua error")
      end)
    end
  end)

  ------------------------------------------------------------------------------------------------
  describe("a bad client id (#10.7)", function()
    local bad = {
      { { "summary", "a\nb" }, "control characters" },
      { { "summary", string.rep("x", 2000) }, "at most 1024 characters" },
      { { "client-aggregates", "--client-id", "a\rb", "--last", "2d" }, "control characters" },
      { { "client-query", "..", "--last", "2d" }, "not an id" },
      { { "aggregates", "--job", "j\n1" }, "control characters" },
    }
    for _, case in ipairs(bad) do
      it("is a usage error: " .. case[2], function()
        srv:script(script([[return function() return 500, nil, '{}' end]]))
        local r = t:run(case[1])
        check(r.code == 2, r)
        check(support.one_line(r.err), r, "not one line")
        check(r.err:find(case[2], 1, true), r)
        check(support.no_trace(r), r)
        check(#srv:log() == 0, r, "something was sent")
      end)
    end
  end)

  ------------------------------------------------------------------------------------------------
  it("refuses plain http to another host with a message for the command line (#10.1)", function()
    for _, case in ipairs {
      { { "query", "--last", "2d", "--base-url", "http://example.com" }, {} },
      { { "query", "--last", "2d" }, { GENESYS_USAGE_BASE_URL = "http://10.0.0.8:8080" } },
    } do
      local r = t:run(case[1], { env = case[2] })
      check(r.code == 2, r)
      check(support.one_line(r.err), r)
      check(r.err:find("plain http", 1, true) and r.err:find("use https", 1, true), r)
      check(not r.err:find("insecure = true", 1, true), r, "a library option in a command-line message")
    end
    local u = t:run { "query", "--last", "2d", "--base-url", "http://127.0.0.1:1@evil.example/" }
    check(u.code == 2 and u.err:find("user:password@", 1, true), u)
  end)

  ------------------------------------------------------------------------------------------------
  describe("echoed secrets (#10.2)", function()
    local function leak(r)
      for _, s in ipairs { r.out, r.err } do
        for _, secret in ipairs { TOKEN, SECRET, BASIC, TOKEN:sub(1, 24) } do
          if s:find(secret, 1, true) then return secret end
        end
      end
      return nil
    end

    local echo_all = [[
local function echo(req, plain)
  return req.headers.authorization .. " " .. TOKEN .. " ]] .. SECRET .. [[" .. (plain and "" or " \\u001b[31mred")
end
]]

    it("an error body, its nested fields and the correlation header: not on stderr, not with --verbose", function()
      srv:script(script(echo_all .. [[
return function(req)
  local e = echo(req)
  return 400, { ["ININ-Correlation-Id"] = echo(req, true) },
    '{"message":"' .. e .. '","code":"bad.request\\u001b[2J","status":400,"contextId":"' .. e ..
    '","details":[{"errorCode":"x","fieldName":"' .. e .. '"}],"errors":[{"message":"' .. e .. '"}]}'
end]]))
      for _, extra in ipairs { {}, { "--verbose" }, { "--format", "json" } } do
        local args = { "query", "--last", "2d" }
        for _, a in ipairs(extra) do args[#args + 1] = a end
        local r = t:run(args)
        check(r.code == 1, r)
        check(leak(r) == nil, r, "leaked " .. tostring(leak(r)))
        check(not r.err:find("\27", 1, true), r, "an escape sequence reached stderr")
        for line in r.err:gmatch("[^\n]+") do check(line:find("^genesys%-usage: "), r, "a stray line: " .. line) end
      end
    end)

    it("a failed job's errorBody", function()
      srv:script(script(echo_all .. [[
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-1"}' end
  return 200, nil, '{"queryStatus":"Failed","errorBody":{"message":"' .. echo(req) .. '","code":"x"}}'
end]]))
      local r = t:run { "aggregates", "--last", "2d", "--verbose" }
      check(r.code == 1 and r.err:find("query_failed", 1, true), r)
      check(leak(r) == nil, r, "leaked " .. tostring(leak(r)))
    end)

    it("rows that carry the token: not on stdout", function()
      srv:script(script(echo_all .. [[
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-1"}' end
  return 200, nil, '{"queryStatus":"Succeeded","entities":[{"date":"2026-01-01","requestCount":1,' ..
    '"oauthClient":{"id":"' .. echo(req) .. '","name":"' .. echo(req) .. '"}}]}'
end]]))
      for _, fmt in ipairs { "table", "csv", "json", "ndjson" } do
        local r = t:run { "aggregates", "--last", "2d", "--group-by", "OauthClientId", "--format", fmt, "--verbose" }
        check(r.code == 0, r)
        check(leak(r) == nil, r, "leaked " .. tostring(leak(r)))
      end
    end)
  end)

  ------------------------------------------------------------------------------------------------
  it("an infinite count: exit 1 with one line in the JSON formats, no file left (#10.6)", function()
    srv:script(script([[return function(req)
      if req.method == "POST" then return 200, nil, '{"id":"job-1"}' end
      return 200, nil, '{"queryStatus":"Succeeded","entities":[{"date":"2026-01-01","requestCount":1e400}]}'
    end]]))
    for _, fmt in ipairs { "json", "ndjson" } do
      local out = t:path("inf." .. fmt)
      local r = t:run { "aggregates", "--last", "2d", "--format", fmt, "--output", out, "--quiet" }
      check(r.code == 1, r)
      check(support.one_line(r.err), r)
      check(r.err:find("not finite", 1, true), r) -- the library refuses the page (bad_response, not retried)
      check(support.no_trace(r), r)
      check(nginx.read_file(out) == nil and #support.temp_files(t.dir) == 0, r, "a file was left")
    end
  end)
end)
