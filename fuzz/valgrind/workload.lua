-- The leak workload of `make valgrind`: at least REQUESTS (default 10,000) HTTP requests against the
-- fake cloud through every path of the C core that owns memory, run under valgrind memcheck:
--   1. usage.core sessions: blocking requests (GET, POST with a body, custom headers), error paths
--      (404, dropped connection, truncated body, slow answer beyond the timeout, a body over
--      max_size, a refused connection), sessions closed explicitly, by __close and by the GC;
--   2. usage.core.multi: several transfers at once, results read, transfers abandoned with
--      multi:remove, multis closed with transfers in flight and multis left to the GC;
--   3. the JSON bridge (core.json_decoder) on every body, including broken JSON;
--   4. the usage client: operations, query/search/aggregates flows (pages, rows, all), usage.gather
--      (scheduler on core.multi), retries after 429/503/drop/truncated/malformed, re-login after an
--      expired token, clients closed or dropped.
-- Run from the repository root: lua5.4 fuzz/valgrind/workload.lua [requests]   (make valgrind)
-- LUA_CPATH must select the core to check (build/lua5.4 by default, see hardening.mk).
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;" .. package.path

local core = require "usage.core"
local usage = require "usage"
local cjson = require "cjson"
local fakecloud = require "fakecloud"

local TARGET = tonumber(arg and arg[1]) or tonumber(os.getenv("REQUESTS")) or 10000
local decode = core.json_decoder(cjson.new().decode)

local fake = fakecloud.start { config = { lifecycle = { polls = 0 }, log = false } }
local base = fake.base_url
local token = fake:token("demo")
local auth = { authorization = "Bearer " .. token, accept = "application/json" }
local I = "2025-01-01T00:00:00Z/2025-01-03T00:00:00Z"
-- aggregates jobs may not start more than a year ago: the 31 days ending 10 days ago
local function day(offset) return os.date("!%Y-%m-%d", os.time() + offset * 86400) end
local DAYS = day(-40) .. "/" .. day(-10)

local count = 0       -- requests issued through usage.core directly
local client_count = 0 -- requests issued by usage clients (their stats.requests)
local outcomes = {}
local function note(what) outcomes[what] = (outcomes[what] or 0) + 1 end

local function check_result(status, headers, body)
  if status == nil then
    note("transport:" .. tostring(headers))
    return
  end
  assert(type(headers) == "table" and type(body) == "string", "bad result shape")
  local v, err = decode(body)
  note(v ~= nil and ("http " .. status) or ("http " .. status .. " bad json"))
  if v == nil then assert(type(err) == "string") end
end

local function request(s, req)
  count = count + 1
  return check_result(s:request(req))
end

-- an execution id whose results answer at once (polls = 0)
local function submit_query()
  local s = core.session()
  count = count + 1
  local status, _, body = s:request { method = "POST", url = base .. "/api/v2/usage/query", headers = {
    authorization = auth.authorization, ["content-type"] = "application/json" },
    body = '{"interval":"' .. I .. '","groupBy":["OAuthClientId"]}' }
  s:close()
  assert(status == 202 or status == 200, "submit failed: " .. tostring(status))
  return decode(body).executionId
end

local exec_id = submit_query()
local results_url = base .. "/api/v2/usage/query/" .. exec_id .. "/results"

-- 1. sessions ----------------------------------------------------------------------------------
local function phase_sessions(n)
  local s = core.session { user_agent = "leak-check/1", max_size = 1024 * 1024 }
  for i = 1, n do
    local k = i % 10
    if k == 0 then
      request(s, { url = base .. "/api/v2/usage/query/nope/results", headers = auth, timeout = 5 }) -- 404
    elseif k == 1 then
      request(s, { method = "POST", url = base .. "/api/v2/usage/query", body = "{broken", timeout = 5,
                   headers = { authorization = auth.authorization, ["content-type"] = "application/json",
                               ["x-empty"] = "" } }) -- 400
    elseif k == 2 then
      request(s, { url = results_url, headers = auth, timeout = 5, max_size = 16 }) -- too_large
    else
      request(s, { url = results_url, headers = auth, timeout = 5 })
    end
    if i % 250 == 0 then -- a fresh session; the old one closed, dropped for the GC, or closed twice
      local how = (i / 250) % 3
      if how == 0 then s:close() s:close() elseif how == 1 then s = nil end
      s = core.session { max_size = 1024 * 1024 }
      collectgarbage()
    end
  end
  s:close()
end

-- faults seen by a bare session: dropped, truncated, slow beyond the timeout, refused connection
local function phase_faults(rounds)
  for r = 1, rounds do
    local s = core.session()
    fake:fault { fault = "drop", match = { path = "/results$" } } -- a fresh connection: seen at once
    request(s, { url = results_url, headers = auth, timeout = 5 })
    fake:fault { fault = "truncated", match = { path = "/results$" } }
    request(s, { url = results_url, headers = auth, timeout = 5 })
    fake:fault { fault = "malformed", match = { path = "/results$" } }
    request(s, { url = results_url, headers = auth, timeout = 5 })
    fake:fault { fault = "slow", delay = 0.3, match = { path = "/results$" } }
    request(s, { url = results_url, headers = auth, timeout = 0.05 })
    request(s, { url = "http://127.0.0.1:1/refused", timeout = 2, connect_timeout = 1 })
    fake:clear_faults()
    if r % 2 == 0 then s:close() end -- else left to the GC
  end
  collectgarbage()
end

-- 2. multi -------------------------------------------------------------------------------------
local function phase_multi(n)
  local done_total = 0
  while done_total < n do
    local m = core.multi()
    local sessions = {}
    for i = 1, 8 do
      sessions[i] = core.session()
      m:add(sessions[i], { url = results_url, headers = auth, timeout = 5 })
      count = count + 1
    end
    local pending = 8
    while pending > 0 do
      local finished = m:perform(0.5)
      for _, s in ipairs(finished) do
        check_result(s:result())
        pending = pending - 1
        done_total = done_total + 1
      end
    end
    -- abandon transfers: removed, or still in flight when the multi is closed or collected
    local a, b = sessions[1], sessions[2]
    m:add(a, { url = results_url, headers = auth, timeout = 5 })
    m:add(b, { url = results_url, headers = auth, timeout = 5 })
    count = count + 2
    m:perform(0)
    m:remove(a)
    if done_total % 3 == 0 then
      m:close()
    else
      m = nil -- luacheck: ignore (dropped with b in flight)
    end
    for i = 1, #sessions do
      if i % 2 == 0 then sessions[i]:close() end
      sessions[i] = nil
    end
    collectgarbage()
  end
end

-- 3/4. the usage client --------------------------------------------------------------------------
local function new_client(opts)
  local o = {
    base_url = base, client_id = "demo-client", client_secret = "demo-secret",
    poll = { interval = 0.001, max_interval = 0.005, timeout = 20 },
    retry = { max_retries = 5, max_retry_time = 20, max_retry_after = 2 },
    timeout = 5,
  }
  for k, v in pairs(opts or {}) do o[k] = v end
  return usage.new(o)
end

local function phase_client(target)
  local start = client_count
  local round = 0
  fake:config { result_rows = 30 }
  while client_count - start < target do
    round = round + 1
    local c = new_client()
    assert(c:query { interval = I, groupBy = { "OAuthClientId" } })
    assert(c:client_query("0f4e9193-0ab2-40bc-9671-10c37a5b87ac", { interval = I }))
    local rows = assert(c:aggregates({ interval = DAYS }, { page_size = 10 }):all())
    assert(#rows == 30, "aggregates rows: " .. #rows)
    local n = 0
    for _ in c:search({ interval = I }, { page_size = 10 }):rows() do n = n + 1 end
    assert(n == 30, "search rows: " .. n)
    for _ in c:client_aggregates("0f4e9193-0ab2-40bc-9671-10c37a5b87ac", { interval = DAYS },
                                 { page_size = 10 }):pages() do end
    if round % 4 == 1 then -- retried failures (each costs a short backoff, so not every round)
      fake:fault { fault = "status", status = 429, retry_after = 0, match = { path = "/results$" } }
      assert(c:query { interval = I })
      fake:fault { fault = "status", status = 503, match = { path = "/results$" } }
      assert(c:query { interval = I })
      fake:fault { fault = "drop", count = 2, match = { path = "/jobs/" } }
      assert(c:aggregates({ interval = DAYS }, { page_size = 10 }):all())
      fake:fault { fault = "truncated", match = { path = "/jobs/" } }
      assert(c:aggregates({ interval = DAYS }, { page_size = 10 }):all())
      fake:fault { fault = "malformed", match = { path = "/simplesearch/" } }
      for _ in c:search({ interval = I }, { page_size = 10 }):rows() do end
      fake:fault { fault = "expired_token", match = { path = "/results$" } }
      assert(c:query { interval = I })
    end
    -- failures that end in nil, err
    local _, err = c:getUsageQueryExecutionIdResults("missing")
    assert(err and err.status == 404)
    fake:fault { fault = "job_failed" }
    _, err = c:query { interval = I }
    assert(err and err.code == "query_failed")
    -- concurrency: gather over the scheduler and core.multi
    local results, errs = usage.gather {
      function() return c:query { interval = I } end,
      function() return c:aggregates({ interval = DAYS }, { page_size = 10 }):all() end,
      function() return c:client_summary("0f4e9193-0ab2-40bc-9671-10c37a5b87ac", { days = 3 }) end,
      function()
        local m = 0
        for _ in c:search({ interval = I }, { page_size = 10 }):rows() do m = m + 1 end
        return m
      end,
    }
    for i = 1, 4 do assert(results[i], "gather task " .. i .. ": " .. tostring(errs[i])) end
    fake:clear_faults()
    client_count = client_count + c:stats().requests
    if round % 2 == 0 then c:close() end -- else dropped with its pool of sessions
    c = nil -- luacheck: ignore
    collectgarbage()
  end
  fake:config { result_rows = false }
end

-- URLs: libcurl's URL API through core.parse_url / core.resolve_url, valid and hostile inputs --------
local function phase_urls(n)
  local inputs = { base, "http://127.0.0.1:x@evil.example/", "http://[::ffff:127.0.0.1]:8/p?q#f", "http://%33333333/",
                   "proxy.example:3128", "socks5h://u:p@127.0.0.1:1080", "ftp://x/", "http://a b/", "\0http://x/" }
  for i = 1, n do
    local u = inputs[i % #inputs + 1]
    local t = core.parse_url(u, i % 2 == 0)
    if t then assert(type(t.loopback) == "boolean") end
    core.resolve_url(results_url, i % 3 == 0 and "/api/v2/x?after=1" or "//evil.example/z")
  end
  outcomes.urls = n
end

-- the split of TARGET: about a third each to sessions, multi and the client ----------------------
local t0 = core.now()
phase_urls(2000)
phase_sessions(math.ceil(TARGET * 0.35))
phase_faults(10)
phase_multi(math.ceil(TARGET * 0.25))
phase_client(math.max(0, TARGET - count))
collectgarbage()
collectgarbage()

local total = count + client_count
local keys = {}
for k in pairs(outcomes) do keys[#keys + 1] = k end
table.sort(keys)
local parts = {}
for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. outcomes[k] end
print(string.format("workload: %d requests (%d through core sessions/multi, %d by usage clients) in %.1f s",
  total, count, client_count, core.now() - t0))
print("workload: core outcomes: " .. table.concat(parts, " "))
fake:stop()
if total < TARGET then
  print("workload: FAIL fewer requests than " .. TARGET)
  os.exit(1)
end
print("workload: done")
