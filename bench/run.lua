-- bench/run.lua: the benchmarks (`make bench`). Contenders run against the same loopback fake cloud
-- in one run, alternated, REPS repetitions each; the report gives medians and ratios, in markdown, on
-- stdout and in bench/results/latest.md. Not a test: nothing here passes or fails on a figure.
--   lua5.4 bench/run.lua [--reps N] [--gets N] [--only get,pages,gather,split,poll] [--no-pin]
-- With two CPUs or more and taskset (util-linux), the fake's nginx runs on the last CPU and every
-- contender but the JavaScript SDK on the first (--no-pin: wherever the scheduler puts them).
-- Contenders: this module under Lua 5.4 and under LuaJIT; bench/curl_loop (plain C libcurl, the
-- physical limit); the official JavaScript SDK (skipped with a message when npm cannot install it).

package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;" .. package.path
package.cpath = "build/lua5.4/?.so;" .. package.cpath

local fakecloud = require "fakecloud"
local usage = require "usage"
local core = require "usage.core"
local cjson = require("cjson").new()

local opts = { reps = 5, gets = 5000, only = nil, pin = true }
do
  local i = 1
  while arg[i] do
    if arg[i] == "--reps" then opts.reps = tonumber(arg[i + 1]); i = i + 1
    elseif arg[i] == "--gets" then opts.gets = tonumber(arg[i + 1]); i = i + 1
    elseif arg[i] == "--no-pin" then opts.pin = false
    elseif arg[i] == "--only" then
      opts.only = {}
      for w in arg[i + 1]:gmatch("[^,]+") do opts.only[w] = true end
      i = i + 1
    else
      io.stderr:write("bench: unknown argument ", arg[i], "\n")
      os.exit(2)
    end
    i = i + 1
  end
end
local function wanted(name) return not opts.only or opts.only[name] end

local report = {}
local function say(fmt, ...)
  local line = string.format(fmt, ...)
  print(line)
  report[#report + 1] = line
end
local function note(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end

-- Run a command that prints one JSON line; returns the decoded table or raises with its output.
local function measure(cmd)
  local out = sh(cmd)
  local line = out:match("(%b{})%s*$")
  local ok, v = pcall(cjson.decode, line or "")
  if not ok or type(v) ~= "table" then error("bench: `" .. cmd .. "` printed:\n" .. out, 0) end
  return v
end

local function median(xs)
  local t = {}
  for i, x in ipairs(xs) do t[i] = x end
  table.sort(t)
  local n = #t
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return t[(n + 1) / 2] end
  return (t[n / 2] + t[n / 2 + 1]) / 2
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

---------------------------------------------------------------------------------------------------
-- the machine and the contenders

local function first_line(cmd) return (sh(cmd):match("[^\n]*")) end
local cpu_model = (sh("grep -m1 'model name' /proc/cpuinfo"):match(":%s*(.-)%s*$")) or "?"
local machine = string.format("%s, %s cores, %s; Lua %s; LuaJIT %s; libcurl %s; nginx %s; node %s",
  cpu_model, first_line("nproc"), first_line("uname -sr"), (first_line("lua5.4 -v"):match("Lua (%S+)") or "?"),
  (first_line("luajit -v"):match("LuaJIT (%S+)") or "?"), core.features.curl,
  (sh("nginx -v"):match("nginx/(%S+)") or "?"), first_line("node --version"))

local CURL_LOOP = "build/bench/curl_loop"
local built = select(2, sh("mkdir -p build/bench && cc -O2 -o " .. CURL_LOOP .. " bench/curl_loop.c -lcurl"))
assert(built, "bench: cannot build bench/curl_loop.c")

-- Pinning: a client and the server it talks to, one request at a time, each on a CPU of its own. Left to
-- the scheduler, they sometimes share one (the other busy with something else), and a run's time then
-- moves by a third from one repetition to the next. The JavaScript SDK is left free: node runs threads
-- of its own, which one CPU would slow.
local CPUS = tonumber(first_line("nproc")) or 1
local PIN = ""
if opts.pin and CPUS >= 2 and select(2, sh("taskset -c 0 true")) then PIN = "taskset -c 0 " end
local SERVER_CPU = CPUS - 1
local CURL_RUN = PIN .. CURL_LOOP
local LUA_ENV = {
  lua54 = "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' " .. PIN .. "lua5.4",
  luajit = "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/luajit/?.so;;' " .. PIN .. "luajit",
}

local CACHE = (os.getenv("XDG_CACHE_HOME") or (os.getenv("HOME") .. "/.cache")) .. "/lua-genesys-usage/npm"
local SDK_VERSION = "262.0.0"
local js_ok, js_why = false, nil
do
  local present = io.open(CACHE .. "/node_modules/purecloud-platform-client-v2/package.json")
  if present then
    present:close()
    js_ok = true
  else
    local out, ok = sh("mkdir -p " .. q(CACHE) .. " && cd " .. q(CACHE) ..
      " && timeout 300 npm install --prefix . --no-audit --no-fund --no-save --loglevel=error " ..
      "purecloud-platform-client-v2@" .. SDK_VERSION)
    js_ok = ok
    if not ok then js_why = (out:match("[^\n]+") or "npm failed") end
  end
end
local JS = "node bench/js_sdk.js"
if not js_ok then note("bench: the JavaScript SDK is skipped: %s", tostring(js_why)) end

---------------------------------------------------------------------------------------------------
-- the server

local fake = fakecloud.start { gzip = false }
if PIN ~= "" then -- the fake's nginx, master and worker, on the last CPU
  local p = io.popen("ps -o pid= --ppid " .. fake.pid .. " 2>/dev/null; echo " .. fake.pid)
  for pid in p:lines() do
    local n = pid:match("%d+")
    if n then assert(select(2, sh("taskset -p -c " .. SERVER_CPU .. " " .. n)), "bench: cannot pin the fake's nginx") end
  end
  p:close()
end

-- the CPU time the fake's nginx processes (master and worker) have used, in seconds (schedstat: nanoseconds)
local function server_cpu()
  local total = 0
  local p = io.popen("ps -o pid= --ppid " .. fake.pid .. " 2>/dev/null; echo " .. fake.pid)
  for pid in p:lines() do
    local f = io.open("/proc/" .. pid:match("%d+") .. "/schedstat")
    if f then
      total = total + (tonumber(f:read("*l"):match("^(%d+)")) or 0) / 1e9
      f:close()
    end
  end
  p:close()
  return total
end
local ok, err = pcall(function()
  fake:config { log = false, lifecycle = { polls = 0 } }
  local token = fake:token("demo", 86400)
  local demo = fakecloud.clients.demo
  local base = fake.base_url

  say("# Benchmarks")
  say("")
  say("Machine: %s.", machine)
  say("Server: the fake cloud (nginx + ngx_http_lua, 1 worker, gzip off, request log off) on loopback; " ..
      "medians of %d alternated repetitions.", opts.reps)
  say("CPUs: %s.", PIN ~= "" and string.format("the fake's nginx pinned to CPU %d, every contender but the JavaScript " ..
                                                  "SDK to CPU 0 (taskset; --no-pin leaves them to the scheduler)",
                                                  SERVER_CPU)
                   or "not pinned (--no-pin, one CPU, or no taskset)")
  say("")

  ---------------------------------------------------------------------------------------------
  if wanted("get") then
    local c = usage.new { base_url = base, access_token = token }
    local sub = assert(c:postUsageQuery { interval = "2025-01-06T00:00:00Z/2025-01-07T00:00:00Z" })
    local res = assert(c:getUsageQueryExecutionIdResults(sub.executionId))
    local s = core.session()
    local _, _, body = s:request { url = base .. "/api/v2/usage/query/" .. sub.executionId .. "/results",
                                   headers = { authorization = "Bearer " .. token } }
    s:close()
    local url = base .. "/api/v2/usage/query/" .. sub.executionId .. "/results"
    local n = opts.gets
    local contenders = {
      { name = "C libcurl loop (baseline)", cmd = string.format("%s get %s %d %s", CURL_RUN, q(url), n, q(token)) },
      { name = "usage, Lua 5.4", cmd = string.format("%s bench/workload.lua get %s %s %s %d", LUA_ENV.lua54, q(base), q(token), sub.executionId, n) },
      { name = "usage, LuaJIT", cmd = string.format("%s bench/workload.lua get %s %s %s %d", LUA_ENV.luajit, q(base), q(token), sub.executionId, n) },
    }
    if js_ok then
      contenders[#contenders + 1] = { name = "JavaScript SDK 262.0.0", cmd = string.format("%s get %s %s %s %d", JS, q(base), q(token), sub.executionId, math.floor(n / 4)) }
    end
    local runs = {}
    for rep = 1, opts.reps do
      for _, ct in ipairs(contenders) do
        local s0 = server_cpu()
        local r = measure(ct.cmd)
        local server = (server_cpu() - s0) / r.requests * 1e6
        runs[ct.name] = runs[ct.name] or { rps = {}, cpu = {}, server = {} }
        table.insert(runs[ct.name].rps, r.requests / r.seconds)
        table.insert(runs[ct.name].cpu, r.cpu / r.requests * 1e6)
        table.insert(runs[ct.name].server, server)
        note("get rep %d %-28s %8.0f req/s, CPU %5.1f + server %5.1f us/request", rep, ct.name, r.requests / r.seconds,
             r.cpu / r.requests * 1e6, server)
      end
    end
    -- ratios are taken within each repetition (neighbours in time share the machine's state) and
    -- their median is reported; the req/s column is the median of each contender's own runs
    local function ratio(name, base_name)
      local xs = {}
      for i, r in ipairs(runs[name].rps) do xs[i] = r / runs[base_name].rps[i] end
      return median(xs)
    end
    -- the same ratio from CPU time: a request costs its client's CPU plus the server's (one connection, one
    -- request at a time), which the other processes of a shared machine do not change the way they change
    -- wall time
    local function cpu_ratio(name, base_name)
      local xs = {}
      for i in ipairs(runs[name].cpu) do
        xs[i] = (runs[base_name].cpu[i] + runs[base_name].server[i]) / (runs[name].cpu[i] + runs[name].server[i])
      end
      return median(xs)
    end
    local js_name = "JavaScript SDK 262.0.0"
    say("## Sequential GETs of a small result")
    say("")
    say("getUsageQueryExecutionIdResults of a finished query (%d row%s, %d bytes of JSON), %d calls per run " ..
        "(the JS SDK %d), one kept-alive connection. Ratios: median over the repetitions of the ratio " ..
        "within each repetition.", #res.results, #res.results == 1 and "" or "s", #body, n, math.floor(n / 4))
    say("")
    say("| contender | req/s | CPU µs/request | server CPU µs/request | req/s vs libcurl | the same from CPU time | req/s vs JS SDK |")
    say("|---|---:|---:|---:|---:|---:|---:|")
    for _, ct in ipairs(contenders) do
      say("| %s | %.0f | %.1f | %.1f | %.2fx | %.2fx | %s |", ct.name, median(runs[ct.name].rps), median(runs[ct.name].cpu),
          median(runs[ct.name].server), ratio(ct.name, contenders[1].name), cpu_ratio(ct.name, contenders[1].name),
          js_ok and string.format("%.2fx", ratio(ct.name, js_name)) or "skipped")
    end
    say("")
  end

  ---------------------------------------------------------------------------------------------
  if wanted("pages") then
    fake:config { result_rows = 100000 }
    local page_size = 1000
    -- the floor: the same pages fetched by plain libcurl, plus plain cjson.decode of them
    local c = usage.new { base_url = base, access_token = token, poll = { interval = 0.001 } }
    -- aggregates jobs may not start more than a year ago: 30 recent days (both ends inclusive)
    local function day(offset) return os.date("!%Y-%m-%d", os.time() + offset * 86400) end
    local pager = c:aggregates({ interval = day(-39) .. "/" .. day(-10), groupBy = { "OauthClientId" } },
                               { page_size = page_size })
    local first = assert(pager:next_page())
    assert(#first == page_size)
    -- the pages' URLs: the first, then each nextUri, as the client follows them
    local urls = { base .. "/api/v2/usage/aggregates/query/jobs/" .. pager.id .. "?pageSize=" .. page_size }
    local s = core.session()
    while true do
      local status, _, body = s:request { url = urls[#urls], headers = { authorization = "Bearer " .. token } }
      assert(status == 200, "bench: page " .. #urls .. ": " .. tostring(status))
      local next_uri = cjson.decode(body).nextUri
      if type(next_uri) ~= "string" then break end
      urls[#urls + 1] = base .. next_uri
    end
    s:close()
    assert(#urls == 100000 / page_size, "expected 100 pages, got " .. #urls)
    local list = os.tmpname()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. q(dir))
    local f = io.open(list, "w")
    f:write(table.concat(urls, "\n"), "\n")
    f:close()
    measure(string.format("%s pages %s %s %s", CURL_LOOP, q(list), q(token), q(dir))) -- dump the bodies once
    local contenders = {
      { name = "usage, Lua 5.4", cmd = string.format("%s bench/workload.lua pages %s %s %s %d", LUA_ENV.lua54, q(base), demo.id, demo.secret, page_size) },
      { name = "usage, LuaJIT", cmd = string.format("%s bench/workload.lua pages %s %s %s %d", LUA_ENV.luajit, q(base), demo.id, demo.secret, page_size) },
      { name = "floor: fetch", cmd = string.format("%s pages %s %s", CURL_RUN, q(list), q(token)) },
      { name = "floor: decode (Lua 5.4)", cmd = string.format("%s bench/workload.lua decode %s", LUA_ENV.lua54, q(dir)) },
      { name = "floor: decode (LuaJIT)", cmd = string.format("%s bench/workload.lua decode %s", LUA_ENV.luajit, q(dir)) },
    }
    if js_ok then
      contenders[#contenders + 1] = { name = "JavaScript SDK 262.0.0", cmd = string.format("%s pages %s %s %s %d", JS, q(base), q(token), pager.id, page_size) }
    end
    local runs = {}
    for rep = 1, opts.reps do
      for _, ct in ipairs(contenders) do
        local r = measure(ct.cmd)
        runs[ct.name] = runs[ct.name] or {}
        table.insert(runs[ct.name], r)
        note("pages rep %d %-28s %6.3f s", rep, ct.name, r.seconds)
      end
    end
    local function med(name, key) local xs = {} for i, r in ipairs(runs[name]) do xs[i] = r[key] end return median(xs) end
    local fetch = med("floor: fetch", "seconds")
    local floor54 = fetch + med("floor: decode (Lua 5.4)", "seconds")
    local floorjit = fetch + med("floor: decode (LuaJIT)", "seconds")
    local js = js_ok and med("JavaScript SDK 262.0.0", "seconds") or nil
    say("## 100,000 aggregate rows over 100 pages")
    say("")
    say("client:aggregates with page_size 1000, every row iterated with pager:rows() (submit and poll included). " ..
        "The floor is plain libcurl fetching the same 100 pages (%.3f s) plus plain cjson.decode of them in the " ..
        "same interpreter, one page at a time as a streaming reader would (Lua 5.4 %.3f s, LuaJIT %.3f s). " ..
        "Ratios: median over the repetitions of the ratio within each repetition.", fetch, med("floor: decode (Lua 5.4)", "seconds"),
        med("floor: decode (LuaJIT)", "seconds"))
    say("")
    say("| contender | time s | rows/s | time vs floor | time vs JS SDK | peak RSS MB | RSS after 10 pages MB | RSS after 100 pages MB |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|")
    -- ratios within each repetition, then their median (as for the GETs)
    local function ratio(name, denominator)
      local xs = {}
      for i, r in ipairs(runs[name]) do xs[i] = r.seconds / denominator(i) end
      return median(xs)
    end
    local function floor_of(decode_name)
      return function(i) return runs["floor: fetch"][i].seconds + runs[decode_name][i].seconds end
    end
    local function js_of(i) return runs["JavaScript SDK 262.0.0"][i].seconds end
    for _, ct in ipairs(contenders) do
      if ct.name:match("^usage") or ct.name:match("^JavaScript") then
        local t = med(ct.name, "seconds")
        local decode_name = ct.name:match("LuaJIT") and "floor: decode (LuaJIT)" or "floor: decode (Lua 5.4)"
        local is_js = ct.name:match("^JavaScript")
        say("| %s | %.3f | %.0f | %s | %s | %.1f | %s | %s |", ct.name, t, 100000 / t,
            is_js and "-" or string.format("%.2fx", ratio(ct.name, floor_of(decode_name))),
            js and string.format("%.2fx", ratio(ct.name, js_of)) or "skipped", med(ct.name, "peak_kb") / 1024,
            is_js and "-" or string.format("%.1f", med(ct.name, "rss_10_kb") / 1024),
            is_js and "-" or string.format("%.1f", med(ct.name, "rss_end_kb") / 1024))
      end
    end
    local function floor_vs_js(decode_name)
      if not js then return "skipped" end
      local xs = {}
      for i = 1, #runs[decode_name] do xs[i] = floor_of(decode_name)(i) / js_of(i) end
      return string.format("%.2fx", median(xs))
    end
    say("| floor (Lua 5.4 decode) | %.3f | %.0f | 1.00x | %s | | | |", floor54, 100000 / floor54,
        floor_vs_js("floor: decode (Lua 5.4)"))
    say("| floor (LuaJIT decode) | %.3f | %.0f | 1.00x | %s | | | |", floorjit, 100000 / floorjit,
        floor_vs_js("floor: decode (LuaJIT)"))
    say("")
    os.execute("rm -rf " .. q(dir) .. " " .. q(list))
    fake:config { result_rows = false }
  end

  ---------------------------------------------------------------------------------------------
  if wanted("gather") then
    fake:config { latency = 0.02, lifecycle = { polls = 1 } }
    local runs = { one = {}, gather = {}, seq = {} }
    local reqs = {}
    for rep = 1, opts.reps do
      for _, lua in ipairs { "lua54", "luajit" } do
        local one = measure(string.format("%s bench/workload.lua gather %s %s %s 1", LUA_ENV[lua], q(base), demo.id, demo.secret))
        local all = measure(string.format("%s bench/workload.lua gather %s %s %s 64", LUA_ENV[lua], q(base), demo.id, demo.secret))
        local seq = measure(string.format("%s bench/workload.lua sequence %s %s %s 64", LUA_ENV[lua], q(base), demo.id, demo.secret))
        assert(all.failures == 0 and seq.failures == 0 and one.failures == 0, "bench: failed flows")
        for k, v in pairs { one = one, gather = all, seq = seq } do
          runs[k][lua] = runs[k][lua] or {}
          table.insert(runs[k][lua], v.seconds)
        end
        reqs[lua] = all.requests
        note("gather rep %d %s one %.3f s, 64 gathered %.3f s, 64 sequential %.3f s", rep, lua, one.seconds, all.seconds, seq.seconds)
      end
    end
    say("## 64 concurrent query flows under usage.gather (20 ms server latency)")
    say("")
    say("Each flow is client:query of one day: submit, wait, poll Running, wait, poll Complete (poll " ..
        "interval 1 ms); every answer of the server takes 20 ms (the fake's latency setting).")
    say("")
    say("| interpreter | one flow s | 64 flows gathered s | 64 flows in sequence s | gathered vs one flow | sequence vs gathered | requests |")
    say("|---|---:|---:|---:|---:|---:|---:|")
    for _, lua in ipairs { "lua54", "luajit" } do
      local one, all, seq = median(runs.one[lua]), median(runs.gather[lua]), median(runs.seq[lua])
      say("| %s | %.3f | %.3f | %.3f | %.2fx | %.1fx | %d |", lua == "lua54" and "Lua 5.4" or "LuaJIT",
          one, all, seq, all / one, seq / all, reqs[lua])
    end
    say("")
    fake:config { latency = 0, lifecycle = { polls = 0 } }
  end

  ---------------------------------------------------------------------------------------------
  if wanted("split") then
    -- a year of aggregates: the library splits it into jobs of at most 90 days and starts them together
    fake:config { latency = 0.2, lifecycle = { seconds = 3 } }
    local runs = { split = {}, sequential = {} }
    local info
    local split_reps = math.max(3, math.ceil(opts.reps / 2))
    for rep = 1, split_reps do
      for _, mode in ipairs { "split", "sequential" } do
        local r = measure(string.format("%s bench/workload.lua split %s %s %s %s", LUA_ENV.lua54, q(base), demo.id,
                                        demo.secret, mode))
        assert(r.failures == 0, "bench: the split workload failed")
        table.insert(runs[mode], r.seconds)
        info = r
        note("split rep %d %-10s %.3f s (%d jobs, %d rows, %d requests)", rep, mode, r.seconds, r.jobs, r.rows, r.requests)
      end
    end
    local xs = {}
    for i = 1, split_reps do xs[i] = runs.split[i] / runs.sequential[i] end
    say("## A year of aggregates: split jobs at once vs one after another")
    say("")
    say("client:aggregates over the %d complete days before today (%d jobs of at most 90 days, %d rows by " ..
        "day and OAuth client, page_size 1000, Lua 5.4), every answer of the server delayed 200 ms and each job " ..
        "taking 3 s to finish (poll interval 0.25 s doubling to 1 s). Split: the library starts the jobs " ..
        "together and reads them in date order. Sequential: the same job bodies (usage.flows.plan), one " ..
        "aggregates call after the other. Medians of %d alternated repetitions; the ratio is the median of the " ..
        "ratios within each repetition.", info.days, info.jobs, info.rows, split_reps)
    say("")
    say("| mode | time s | vs sequential |")
    say("|---|---:|---:|")
    say("| split, started together | %.3f | %.2fx |", median(runs.split), median(xs))
    say("| the same jobs one after another | %.3f | 1.00x |", median(runs.sequential))
    say("")
    fake:config { latency = 0, lifecycle = { polls = 0 } }
  end

  ---------------------------------------------------------------------------------------------
  if wanted("poll") then
    say("## Polling cost")
    say("")
    say("Requests per completed query (submit included) with the default poll settings (wait 1 s, doubling " ..
        "to 8 s), for queries that finish 1, 5 and 30 s after submission; 4 queries each, run together under " ..
        "usage.gather (Lua 5.4). For comparison, polling every second would take 1 + ceil(T) requests.")
    say("")
    say("| query finishes after | requests per query | wall time s | polling every 1 s |")
    say("|---:|---:|---:|---:|")
    for _, secs in ipairs { 1, 5, 30 } do
      fake:config { lifecycle = { seconds = secs } }
      local r = measure(string.format("%s bench/workload.lua poll %s %s %s 4", LUA_ENV.lua54, q(base), demo.id, demo.secret))
      assert(r.failures == 0)
      say("| %d s | %.1f | %.1f | %d |", secs, r.requests / 4, r.seconds, 1 + math.ceil(secs))
      note("poll %d s: %.1f requests per query", secs, r.requests / 4)
    end
    say("")
  end
end)
fake:stop()
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
os.execute("mkdir -p bench/results")
local f = io.open("bench/results/latest.md", "w")
f:write(table.concat(report, "\n"), "\n")
f:close()
note("bench: report written to bench/results/latest.md")
