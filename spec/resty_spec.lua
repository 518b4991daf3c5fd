-- The usage module inside nginx (Debian nginx + libnginx-mod-http-lua, LuaJIT): every flow, a worker
-- that stays responsive, one login shared by all workers, errors as nil, err, phases that cannot
-- yield, and examples/nginx.conf. Runs under `lua5.4 /usr/bin/busted` and `luajit /usr/bin/busted`
-- (the spec process only drives HTTP; nginx always loads build/luajit/usage/core.so).

local fakecloud = require "fakecloud"
local core = require "usage.core"
local usage = require "usage"
local interval = require "usage.base.interval"
local cjson = require("cjson").new()

local launcher = dofile(fakecloud.repo .. "/spec/resty/launcher.lua")

local function file_exists(p)
  local fh = io.open(p, "rb")
  if fh then fh:close() end
  return fh ~= nil
end

-- without nginx, its Lua module or the LuaJIT core this spec fails (one policy: never pend, never skip)
local _, missing = require("support.nginx").nginx_available()
if not missing and not file_exists(fakecloud.repo .. "/build/luajit/usage/core.so") then
  missing = "build/luajit/usage/core.so is missing (make build)"
end

local CLIENT_ID = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac" -- as in spec/resty/embed.lua

local function decode(body)
  local ok, v = pcall(cjson.decode, body or "")
  assert(ok, "not JSON: " .. tostring(body))
  return fakecloud.normalize(v)
end

-- the requests of examples/nginx.conf in the fake's log (its client's user agent says so)
local function H_requests(fake, pattern, method)
  local out = {}
  for _, e in ipairs(fake:log()) do
    if e.path:find(pattern) and (not method or e.method == method)
       and (e.headers["user-agent"] or ""):find("^usage_example/") then
      out[#out + 1] = e
    end
  end
  return out
end

local function logins(fake)
  local n = 0
  for _, e in ipairs(fake:log()) do
    if e.method == "POST" and e.path == "/oauth/token" then n = n + 1 end
  end
  return n
end

local function conf(workers, fake, extra)
  local vars = { WORKERS = workers, FAKE_URL = fake.base_url, SHARED_DICT = "usage_tokens", REUSEPORT = "",
                 VM_POOL = 4 }
  for k, v in pairs(extra or {}) do vars[k] = v end
  return { template = "spec/resty/nginx.conf.in", vars = vars }
end

-- wait until the timer probes of every worker have finished (they log in on their own)
local function wait_timer_probes(nx, workers)
  local deadline = core.now() + 10
  while core.now() < deadline do
    local phases = decode(select(3, nx:get("/phases")))
    local n = 0
    for w = 0, workers - 1 do
      if phases["timer:" .. w] then n = n + 1 end
    end
    if n == workers then return phases end
    core.sleep(0.05)
  end
  error("the timer probes did not finish")
end

-- no [error], [crit], [alert] or [emerg] line in an nginx error log
local function assert_clean_log(n)
  local bad = {}
  for line in n:error_log():gmatch("[^\n]+") do
    if line:find("%[error%]") or line:find("%[crit%]") or line:find("%[alert%]") or line:find("%[emerg%]") then
      bad[#bad + 1] = line
    end
  end
  assert.equal(0, #bad, table.concat(bad, "\n"))
end

if missing then
  -- a missing dependency fails the suite (make deps installs it); a skipped check would pass unnoticed
  describe("usage inside nginx", function()
    it("has what it needs", function()
      error("cannot run: " .. missing, 0)
    end)
  end)
  return
end

describe("usage inside nginx", function()
  local fake, nx, iv, local_client

  lazy_setup(function()
    fake = fakecloud.start {}
    nx = launcher.start(conf(1, fake))
    iv = interval.last(7 * 86400, os.time())
    local_client = usage.new { base_url = fake.base_url, client_id = "demo-client", client_secret = "demo-secret",
                               poll = { interval = 0.05, max_interval = 0.2 } }
  end)

  lazy_teardown(function()
    if nx then nx:stop() end
    if fake then fake:stop() end
  end)

  local function flow(name, query)
    local path = "/flow/" .. name .. "?interval=" .. core.percent_encode(iv) .. (query or "")
    local status, _, body = nx:get(path, 30)
    assert.equal(200, status)
    return decode(body)
  end

  -- the same flows outside nginx (blocking), for the expected figures
  local expected = {}
  local function expect(name)
    if expected[name] then return expected[name] end
    local c, r = local_client, nil
    if name == "query" then
      r = #assert(c:query { interval = iv, groupBy = { "OAuthClientId" }, metrics = { "Requests" } }).results
    elseif name == "client_query" then
      r = #assert(c:client_query(CLIENT_ID, { interval = iv, groupBy = { "TemplateUri" } })).results
    elseif name == "client_summary" then
      r = #assert(c:client_summary(CLIENT_ID, { days = 7 })).results
    elseif name == "search" then
      r = #assert(c:search({ interval = iv }, { page_size = 500 }):all())
    elseif name == "aggregates" then
      r = #assert(c:aggregates({ interval = iv, groupBy = { "OauthClientId" }, metrics = { "Requests" } }):all())
    elseif name == "client_aggregates" then
      r = #assert(c:client_aggregates(CLIENT_ID, { interval = iv, groupBy = { "HttpMethod" } }):all())
    end
    expected[name] = r
    return r
  end

  describe("flows in a content handler", function()
    for _, name in ipairs { "query", "client_query", "client_summary", "search", "aggregates", "client_aggregates" } do
      it(name .. " gives the rows it gives outside nginx", function()
        local res = flow(name)
        assert.is_true(res.ok, cjson.encode(res.err or {}))
        assert.is_true(res.result.rows > 0)
        assert.equal(expect(name), res.result.rows)
        if res.result.status then assert.equal("Complete", res.result.status) end
      end)
    end

    it("aggregates pages through several pages (page_size 50)", function()
      local res = flow("aggregates")
      assert.is_true(res.result.pages > 1)
    end)

    it("pager:rows() streams inside nginx", function()
      local res = flow("rows")
      assert.is_true(res.ok)
      assert.equal(expect("aggregates"), res.result.rows)
    end)

    it("usage.gather runs all six flows at once in light threads", function()
      local res = flow("gather")
      assert.is_true(res.ok)
      for _, name in ipairs { "query", "client_query", "client_summary", "search", "aggregates", "client_aggregates" } do
        local r = res.result[name]
        assert.is_nil(r.err, name)
        assert.equal(expect(name), r.result.rows, name)
      end
    end)
  end)

  describe("a worker that never blocks", function()
    it("answers /ping on the only worker while its transfers wait on a slow server", function()
      -- every answer of the fake takes 0.25 s; a worker blocked on a transfer could answer no /ping while
      -- that transfer waits, so pings that start and end inside the wait of one of the worker's requests
      -- (the fake logs when each arrived) show that the worker kept serving
      local LATENCY = 0.25
      fake:config { latency = LATENCY }
      fake:clear_log()
      local ok, err = pcall(function()
        local slow = nx:start_get("/flow/gather?interval=" .. core.percent_encode(iv), 60)
        for _ = 1, 5 do slow:poll(0.01) end -- the request is on its way
        local pings = {}
        local t0 = core.now()
        while not slow:poll(0) and core.now() - t0 < 60 do
          local start = core.time()
          local status, _, body = nx:get("/ping", 10)
          assert.equal(200, status)
          assert.truthy(body:find("pong", 1, true))
          pings[#pings + 1] = { start = start, finish = core.time() }
          core.sleep(0.02)
        end
        local done = slow:poll(0)
        assert.truthy(done, "the slow flows did not finish")
        assert.equal(200, done.status)
        local res = decode(done.body)
        assert.is_true(res.ok)
        local flows_done = 0
        for name, r in pairs(res.result) do
          assert.is_nil(r.err, name)
          flows_done = flows_done + 1
        end
        assert.equal(6, flows_done) -- the six flows of /flow/gather
        local inside = 0
        local waits = {}
        for _, e in ipairs(fake:log()) do
          if e.path:find("^/api/") then waits[#waits + 1] = e.time end
        end
        for _, p in ipairs(pings) do
          for _, arrived in ipairs(waits) do
            if p.start >= arrived and p.finish <= arrived + LATENCY then inside = inside + 1 break end
          end
        end
        print(string.format("\n  /ping while 6 slow flows ran %.2f s: %d pings, %d of them inside a transfer's wait",
                            done.elapsed, #pings, inside))
        assert.is_true(#waits > 0, "the fake logged no request of the flows")
        assert.is_true(inside >= 3, "only " .. inside .. " of " .. #pings .. " pings were answered while a transfer waited")
      end)
      fake:config { latency = 0 }
      if not ok then error(err, 0) end
    end)
  end)

  describe("the thread pool", function()
    -- client sockets to the fake (nginx's libcurl connections, and the spec's own few)
    local function sockets_to_fake()
      local n = 0
      for _, f in ipairs { "/proc/net/tcp", "/proc/net/tcp6" } do
        for rport in (launcher.read_file(f) or ""):gmatch("\n%s*%d+:%s+%x+:%x+%s+%x+:(%x+)") do
          if tonumber(rport, 16) == fake.port then n = n + 1 end
        end
      end
      return n
    end

    it("keeps connections alive inside its Lua VMs (40 calls, at most one new connection per VM)", function()
      assert.equal(200, (nx:get("/flow/op")))
      local before = sockets_to_fake()
      for _ = 1, 40 do assert.equal(200, (nx:get("/flow/op"))) end
      local opened = sockets_to_fake() - before
      assert.is_true(opened <= 4, opened .. " new connections")
    end)

    it("more transfers at once than Lua VMs (12 on 4) wait for a free VM instead of failing", function()
      assert.equal(200, (nx:get("/flow/op")))
      fake:config { latency = 0.2 }
      local ok, err = pcall(function()
        local res = flow("many", "&n=12")
        assert.is_true(res.ok, cjson.encode(res.err or {}))
        assert.equal(12, res.result.ok)
        assert.is_true(res.elapsed >= 0.55, "12 transfers of 0.2 s on 4 VMs took " .. res.elapsed .. " s")
      end)
      fake:config { latency = 0 }
      if not ok then error(err, 0) end
    end)
  end)

  describe("errors reach the handler as nil, err", function()
    it("403 for a client without permissions", function()
      local res = flow("query", "&client=no-perms")
      assert.is_false(res.ok)
      assert.equal(403, res.err.status)
      assert.equal("missing.any.permissions", res.err.code)
    end)

    it("poll_timeout when the query outlives poll.timeout", function()
      local res = flow("query", "&poll_timeout=0.01")
      assert.is_false(res.ok)
      assert.equal("poll_timeout", res.err.code)
    end)

    it("a transport failure (nothing listening) as err.code connect", function()
      local res = flow("op", "&retry=0&base_url=" .. core.percent_encode("http://127.0.0.1:1"))
      assert.is_false(res.ok)
      assert.equal("connect", res.err.code)
      assert.is_nil(res.err.status)
    end)

    it("two clients of one worker keep their own timeouts (#10.9)", function()
      -- each of the three calls meets an answer slowed by 1.5 s: the 0.5 s client times out, the 5 s one
      -- waits it out, whichever went first; before, the first client's timeout held for both
      fake:fault { fault = "slow", delay = 1.5, count = 3, match = { method = "POST", path = "/usage/query$" } }
      local res = flow("timeouts")
      assert.is_true(res.ok, res.err and res.err.text)
      local short1, long, short2 = res.result[1], res.result[2], res.result[3]
      assert.is_false(short1.ok)
      assert.equal("timeout", short1.code)
      assert.is_true(long.ok, "the 5 s client gave up: " .. tostring(long.code))
      assert.is_false(short2.ok)
      assert.equal("timeout", short2.code)
    end)

    it("a thread pool missing from nginx.conf as err.code thread_pool", function()
      local res = flow("op", "&pool=nosuchpool")
      assert.is_false(res.ok)
      assert.equal("thread_pool", res.err.code)
      assert.truthy(res.err.message:find("thread_pool nosuchpool", 1, true))
    end)
  end)

  describe("phases", function()
    local phases
    lazy_setup(function()
      assert.equal(200, (nx:get("/phase/set")))
      assert.equal(200, (nx:get("/phase/filters")))
      assert.equal(200, (nx:get("/phase/rewrite")))
      phases = wait_timer_probes(nx, 1)
      core.sleep(0.05) -- the log phase runs after the answer
      phases = decode(select(3, nx:get("/phases")))
    end)

    for _, name in ipairs { "init", "init_worker:0", "set", "header_filter", "body_filter", "log" } do
      it("'" .. name .. "' cannot yield: nil, err code nginx_phase at once, nothing sent", function()
        local p = phases[name]
        assert.truthy(p, "no probe for " .. name)
        assert.is_nil(p.error)
        local phase = name:match("^[%a_]+")
        assert.equal(phase, p.phase)
        for _, what in ipairs { "query", "pager", "gather" } do
          assert.is_false(p[what].ok, what)
          assert.equal("nginx_phase", p[what].err.code, what)
          assert.equal(phase, p[what].err.phase, what)
        end
        assert.is_true(p.rows_raised) -- pager:rows() raises the err table
        assert.equal(0, p.requests, "requests were sent") -- nothing sent, no login either
      end)
    end

    for _, name in ipairs { "rewrite", "access", "timer:0" } do
      it("'" .. name .. "' can yield: the calls run", function()
        local p = phases[name]
        assert.truthy(p, "no probe for " .. name)
        assert.is_nil(p.error)
        assert.is_true(p.query.ok, cjson.encode(p.query.err or {}))
        assert.is_true(p.pager.ok)
        assert.is_true(p.gather.ok)
        assert.is_false(p.rows_raised)
      end)
    end

    it("set_by_lua gets the error code at once, with nothing sent", function()
      fake:clear_log()
      local status, _, body = nx:get("/phase/set")
      assert.equal(200, status)
      assert.equal("nginx_phase", body:match("^%S+"))
      local sent = 0
      for _, e in ipairs(fake:log()) do if e.path:find("^/api/") or e.path == "/oauth/token" then sent = sent + 1 end end
      assert.equal(0, sent)
    end)
  end)

  describe("two workers and a shared dict", function()
    local nx2

    lazy_setup(function()
      nx2 = launcher.start(conf(2, fake, { REUSEPORT = "reuseport", VM_POOL = 16 }))
      wait_timer_probes(nx2, 2)
    end)

    lazy_teardown(function()
      if nx2 then nx2:stop() end
    end)

    local function burst(n, query)
      local paths = {}
      for i = 1, n do paths[i] = "/flow/op?interval=" .. core.percent_encode(iv) .. query end
      local workers, count, oks = {}, 0, 0
      local answers = nx2:get_many(paths, 30)
      assert.equal(n, #answers)
      for _, r in ipairs(answers) do
        assert.equal(200, r.status)
        local res = decode(r.body)
        assert.is_true(res.ok, cjson.encode(res.err or {}))
        if res.ok then oks = oks + 1 end
        if not workers[res.worker] then count = count + 1 end
        workers[res.worker] = true
      end
      return oks, count
    end

    it("20 concurrent requests on both workers cause exactly one login", function()
      fake:clear_log()
      -- the login is slow, so that every request arrives while it is under way
      fake:fault { fault = "slow", delay = 0.3, match = { path = "/oauth/token" } }
      local oks, workers = burst(20, "&shared=1")
      assert.equal(20, oks)
      assert.equal(2, workers)
      assert.equal(1, logins(fake))
      -- and the token keeps serving both workers
      oks, workers = burst(20, "&shared=1")
      assert.equal(20, oks)
      assert.equal(1, logins(fake))
    end)

    it("after an expired token every worker recovers with exactly one more login", function()
      burst(4, "&shared=1") -- a token in the dict
      fake:clear_log()
      fake:fault { fault = "expired_token" }
      local oks, workers = burst(20, "&shared=1")
      assert.equal(20, oks)
      assert.equal(2, workers)
      local n401 = 0
      for _, e in ipairs(fake:log()) do if e.status == 401 then n401 = n401 + 1 end end
      assert.is_true(n401 >= 1)
      assert.equal(1, logins(fake))
    end)

    it("a login that fails is shared too: the waiting requests get its error, no stampede", function()
      fake:clear_log()
      fake:fault { fault = "slow", delay = 0.3, match = { path = "/oauth/token" } }
      local paths = {}
      for i = 1, 10 do paths[i] = "/flow/op?shared=1&retry=0&client=wrong-client" end
      local answers = nx2:get_many(paths, 30)
      assert.equal(10, #answers)
      for _, r in ipairs(answers) do
        assert.equal(200, r.status)
        local res = decode(r.body)
        assert.is_false(res.ok)
        assert.equal(400, res.err.status)
        assert.equal("invalid_client", res.err.code)
      end
      assert.equal(1, logins(fake))
    end)

    it("without the dict each client logs in by itself", function()
      fake:clear_log()
      local oks = burst(6, "&shared=0")
      assert.equal(6, oks)
      assert.equal(6, logins(fake))
    end)

    it("nginx logged no errors", function()
      assert_clean_log(nx2)
    end)
  end)

  describe("examples/nginx.conf", function()
    local ex
    local top_days = 7

    -- a failure names what nginx logged
    local function check(cond, what)
      if not cond then error((what or "assertion failed") .. "\nnginx error.log:\n" .. ex:error_log(), 2) end
      return cond
    end

    local function status()
      local code, _, body = ex:get("/usage/status")
      return code, decode(body)
    end

    -- wait until the collector has run `n` times in all and is not running (at most `seconds`)
    local function collections(n, seconds)
      local deadline, st = core.now() + seconds, nil
      repeat
        local _
        _, st = status()
        if st.collections >= n and not st.running then return st end
        core.sleep(0.05)
      until core.now() > deadline
      check(false, "the collector ran " .. tostring(st and st.collections) .. " times, not " .. n)
    end

    lazy_setup(function()
      local env = table.concat({
        "GENESYS_USAGE_BASE_URL=" .. fake.base_url,
        "GENESYSCLOUD_OAUTHCLIENT_ID=demo-client",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET=demo-secret",
        "USAGE_COLLECT_EVERY=2",
        "USAGE_POLL_INTERVAL=0.05",
        "USAGE_ORG=acme",                -- the org label of every series
        "USAGE_LICENSES=cx3=1000",       -- the fair-use forecast's gauges
      }, " ")
      local me = io.popen("id -un"):read("*l")
      fake:reset()
      ex = launcher.start {
        template = "examples/nginx.conf",
        nginx_prefix = launcher.repo, -- as the docs run it: nginx -p "$PWD" -c examples/nginx.conf -g "user ..."
        env = env,
        args = "-g " .. require("support.nginx").sh_quote("user " .. me .. ";"),
        ping = "/usage/status",
        ping_any = true,
        edit = function(text, f)
          local n
          text, n = text:gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:" .. f.PORT .. ";")
          assert(n == 1, "examples/nginx.conf: no listen line to rewrite")
          text = text:gsub("/tmp/usage%-example", f.PREFIX .. "/run")
          text = text:gsub("daemon off;", "daemon on;")
          -- the specs' watchdog stops this nginx too if the spec process dies
          text, n = text:gsub('lua_package_path "', 'lua_package_path "${prefix}spec/fakecloud/lua/?.lua;', 1)
          assert(n == 1, "examples/nginx.conf: no lua_package_path to extend")
          text, n = text:gsub("(init_worker_by_lua_block {\n)",
                              "%1    require('fake.watchdog').start(" .. f.OWNER_PID .. ", nil, 'spec_watchdog')\n", 1)
          assert(n == 1, "examples/nginx.conf: no init_worker_by_lua_block to extend")
          f.PID_FILE = f.PREFIX .. "/run.pid"
          return text
        end,
      }
      collections(1, 30)
    end)

    lazy_teardown(function()
      if ex then ex:stop() end
    end)

    it("GET /usage/top-clients answers from the collector's figures: the top clients of the last 7 days", function()
      local code, headers, body = ex:get("/usage/top-clients")
      check(code == 200, "status " .. tostring(code) .. ": " .. tostring(body))
      assert.truthy(headers["content-type"]:find("application/json", 1, true))
      local r = decode(body)
      local days = interval.days(top_days)
      assert.equal(days.first, r.days.first)
      assert.equal(days.last, r.days.last)
      assert.equal(days.label, r.days.label)
      assert.equal(10, #r.clients)
      for i = 2, #r.clients do assert.is_true(r.clients[i - 1].requests >= r.clients[i].requests) end
      -- the same sums from the fake's raw records of those days (not from the library the collector runs)
      local sums, total = {}, 0
      for _, rec in ipairs(fake:data(days.first, days.last)) do
        sums[rec.clientId] = (sums[rec.clientId] or 0) + rec.requests
        total = total + rec.requests
      end
      assert.equal(total, r.total_requests)
      for _, c in ipairs(r.clients) do assert.equal(sums[c.id], c.requests) end
      -- a request never runs a job: the fake saw exactly the collector's jobs
      local st = collections(1, 30)
      local posts = H_requests(fake, "/aggregates/query/jobs$", "POST")
      local seen = {}
      for i, e in ipairs(posts) do seen[i] = string.format("%.3f %s %s", e.time, e.status, e.body) end
      assert.equal(st.collections, #posts, table.concat(seen, "\n"))
    end)

    it("rejects another number of days with 400, saying which it serves", function()
      local code, _, body = ex:get("/usage/top-clients?days=400")
      assert.equal(400, code)
      assert.matches("last 7 complete UTC days", body)
    end)

    -- the month to date the forecast counts (the 1st of this month through yesterday), from the fake's raw rows
    local function raw_month_to_date()
      local today = interval.day_of(os.time())
      local y, m = interval.civil_from_days(today)
      local first = interval.days_from_civil(y, m, 1)
      if first > today - 1 then return 0 end
      local sum = 0
      for _, rec in ipairs(fake:data(interval.date(first), interval.date(today - 1))) do sum = sum + rec.requests end
      return sum
    end

    it("GET /metrics serves the exposition, which promtool accepts: every series with org, the forecast's gauges", function()
      local code, headers, body = ex:get("/metrics")
      check(code == 200, "status " .. tostring(code))
      assert.matches("text/plain; version=0.0.4", headers["content-type"], 1, true)
      assert.matches('genesys_usage_oauth_client_requests{client_id="[^"]+",client_name="[^"]*",org="acme",period="day"} %d+', body)
      assert.matches('genesys_usage_oauth_client_requests{[^}]*period="month"} %d+', body)
      assert.matches('genesys_usage_collect_success{org="acme"} 1', body, 1, true)
      local exposition = require "support.exposition"
      local families, by = exposition.parse(body)
      for _, f in ipairs(families) do
        for _, smp in ipairs(f.samples) do assert.equal("acme", smp.labels.org, smp.line) end
      end
      local forecast = require "usage.forecast"
      assert.equal(forecast.allowance { licenses = "cx3=1000" }.requests,
                   exposition.sample(by, "genesys_usage_allowance_requests", { org = "acme" }))
      assert.equal(raw_month_to_date(), exposition.sample(by, "genesys_usage_month_to_date_requests", { org = "acme" }))
      assert.truthy(exposition.sample(by, "genesys_usage_projected_requests", { org = "acme" }))
      assert.truthy(#exposition.samples(by, "genesys_usage_oauth_client_projected_requests", { org = "acme" }) > 0)
      local file = os.tmpname()
      local fh = assert(io.open(file, "wb"))
      fh:write(body)
      fh:close()
      local p = io.popen("promtool check metrics < " .. file .. " 2>&1; echo \"exit=$?\"")
      local out = p:read("*a")
      p:close()
      os.remove(file)
      assert.matches("exit=0", out, 1, true)
      assert.is_nil(out:find("problem", 1, true), out)
    end)

    it("collects in one worker at a time, once per period, across both workers", function()
      local _, st0 = status()
      local st = collections(st0.collections + 2, 30)
      -- each collection is one job (the 30-odd days fit in one): as many jobs as collections, none twice
      local posts = #H_requests(fake, "/aggregates/query/jobs$", "POST")
      assert.equal(st.collections, posts)
      assert.equal(0, st.errors)
    end)

    it("a failed collection keeps the last good figures and counts an error", function()
      fake:fault { fault = "status", status = 500, count = -1, match = { method = "POST", path = "/aggregates/query/jobs$" } }
      local deadline, st = core.now() + 30, nil
      repeat
        local _
        _, st = status()
        if st.errors >= 1 and not st.running then break end -- (the exposition is rendered before the lock goes)
        core.sleep(0.1)
      until core.now() > deadline
      fake:clear_faults()
      check(st.errors >= 1, "no failed collection was counted")
      assert.is_string(st.last_error)
      local _, _, body = ex:get("/metrics")
      assert.matches('genesys_usage_oauth_client_requests{[^}]*period="day"} %d+', body)
      assert.matches('genesys_usage_collect_errors_total{org="acme"} [1-9]', body)
      assert.matches('genesys_usage_collect_success{org="acme"} 0', body, 1, true)
      assert.matches('genesys_usage_projected_requests{org="acme"} %d+', body) -- (the last good forecast too)
      local code = ex:get("/usage/top-clients")
      assert.equal(200, code)
    end)

    it("a real Prometheus scrapes /metrics and stores genesys_usage_ series per OAuth client and org, and the forecast's", function()
      local support = require "support.prometheus"
      local forecast = require "usage.forecast"
      support.with({ targets = { "127.0.0.1:" .. ex.port } }, function(prom)
        local result = prom:wait_for('genesys_usage_oauth_client_requests{org="acme",period="month"}', 120)
        assert.is_true(#result > 0)
        assert.is_string(result[1].metric.client_id)
        assert.is_true(#result[1].metric.client_id > 0)
        -- nothing without its org
        assert.equal("0", prom:wait_for('count({__name__=~"genesys_usage_.*",org!="acme"}) or vector(0)', 60)[1].value[2])
        -- the forecast's gauges, as the collector computed them from the fake's rows
        local allowance = prom:wait_for('genesys_usage_allowance_requests{org="acme"}', 60)
        assert.equal(tostring(forecast.allowance { licenses = "cx3=1000" }.requests), allowance[1].value[2])
        local mtd = prom:wait_for('genesys_usage_month_to_date_requests{org="acme"}', 60)
        assert.equal(raw_month_to_date(), tonumber(mtd[1].value[2]))
        local p = prom:wait_for('genesys_usage_projected_requests{org="acme"} >= genesys_usage_month_to_date_requests{org="acme"}', 60)
        assert.equal(1, #p)
        assert.is_true(#prom:wait_for('genesys_usage_oauth_client_projected_requests{org="acme"}', 60) > 0)
      end)
    end)

    it("nginx logged no errors", function()
      assert_clean_log(ex)
    end)
  end)

  it("the one-worker nginx logged no errors", function()
    assert_clean_log(nx)
  end)
end)
