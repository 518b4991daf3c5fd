-- bench/callgrind.lua: where a sequential GET's instructions go, layer by layer (Lua 5.4, valgrind's
-- callgrind). Not a test and not part of `make bench`: instruction counts do not move with the machine's
-- load, so they are what a change to the GET path is measured by (bench/README.md).
--   lua5.4 bench/callgrind.lua [--gets N]   (default 1000; a few hundred or more, or the allocator's noise shows)
-- Each layer is a loop of N GETs of the same small result against the fake cloud, entered one level
-- deeper or shallower in the module; each runs under callgrind twice (10 and 10 + N GETs) and the
-- difference over N is its instructions per request, startup and connection left out. The interpreter is
-- bench/lua_host.c linked against the static liblua5.4.a (its functions named in callgrind's output)
-- when that builds, else lua5.4 (counts within about 2,000 of it, functions unnamed). Profiles stay in
-- build/bench/callgrind/ (callgrind_annotate FILE).

package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;" .. package.path
package.cpath = "build/lua5.4/?.so;" .. package.cpath

local LAYERS = {
  -- name, what it runs, the layer it adds to
  { "curl", "plain libcurl (bench/curl_loop.c), no Lua" },
  { "core", "session:request from Lua with one request table (the C core)", "curl" },
  { "decode", "the same plus usage.base.json.decode of each body (lua-cjson and the bridge)", "core" },
  { "runtime", "the blocking runtime's request (signal check, transport pool) instead of session:request", "core" },
  { "exchange", "exchange:run (auth, request table, meta, redaction probes, decode, array marking)", "runtime" },
  { "method", "client:getUsageQueryExecutionIdResults (argument check, URL, runtime choice, redact:out)", "exchange" },
}

---------------------------------------------------------------------------------------------------
-- a layer's loop (run by the interpreter under callgrind): --layer NAME BASE TOKEN ID N

if arg[1] == "--layer" then
  local usage = require "usage"
  local json = require "usage.base.json"
  local layer, base, token, id, n = arg[2], arg[3], arg[4], arg[5], tonumber(arg[6])
  local c = usage.new { base_url = base, access_token = token }
  assert(c:getUsageQueryExecutionIdResults(id)) -- connect (and fill the caches) in both runs alike
  local url = base .. "/api/v2/usage/query/" .. id .. "/results"
  local t = c.exchange.timeouts
  -- what the exchange hands the C core for this GET
  local treq = { url = url, headers = { accept = "application/json", authorization = "Bearer " .. token },
                 timeout = t.timeout, connect_timeout = t.connect_timeout, max_size = t.max_size, raw_headers = true }
  if layer == "core" or layer == "decode" then
    local s = assert(c.transport:acquire())
    for _ = 1, n do
      local status, _, body = s:request(treq)
      assert(status == 200, body)
      if layer == "decode" then assert(json.decode(body)) end
    end
    c.transport:release(s, true)
  elseif layer == "runtime" then
    local rt = require("usage.runtime").current()
    for _ = 1, n do assert(rt.request(c.transport, treq) == 200) end
  elseif layer == "exchange" then
    local rt = require("usage.runtime").current()
    local op
    for _, o in ipairs(require("usage.api.operations").list) do
      if o.name == "getUsageQueryExecutionIdResults" then op = o end
    end
    local req = { url = url, path = "/api/v2/usage/query/" .. id .. "/results" }
    for _ = 1, n do assert(c.exchange:run(rt, req, op, c.auth)) end
  elseif layer == "method" then
    for _ = 1, n do assert(c:getUsageQueryExecutionIdResults(id)) end
  else
    error("unknown layer " .. tostring(layer))
  end
  c:close()
  return
end

---------------------------------------------------------------------------------------------------
-- the driver

local fakecloud = require "fakecloud"

local gets = arg[1] == "--gets" and math.tointeger(tonumber(arg[2])) or (arg[1] == nil and 1000)
if not gets or gets < 1 or arg[3] then
  io.stderr:write("usage: lua5.4 bench/callgrind.lua [--gets N]\n")
  os.exit(2)
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function ok_sh(cmd) local ok = os.execute(cmd) return ok == true or ok == 0 end

assert(ok_sh("valgrind --version >/dev/null 2>&1"), "callgrind: valgrind is not installed")
local DIR = "build/bench/callgrind"
assert(ok_sh("mkdir -p " .. DIR))
assert(ok_sh("cc -O2 -o build/bench/curl_loop bench/curl_loop.c -lcurl"), "callgrind: cannot build bench/curl_loop.c")
local LUA = "build/bench/lua54_host"
local named = ok_sh("cc -O2 -g -I/usr/include/lua5.4 -o " .. LUA .. " bench/lua_host.c -Wl,-E " ..
                    "-Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl 2>/dev/null")
if not named then LUA = "lua5.4" end

-- instructions of one callgrind run (its "summary:" line)
local function instructions(file)
  local f = assert(io.open(file))
  local text = f:read("a")
  f:close()
  return assert(tonumber(text:match("\nsummary: (%d+)")), "no summary in " .. file)
end

local fake = fakecloud.start { gzip = false }
local ok, err = pcall(function()
  fake:config { log = false, lifecycle = { polls = 0 } }
  local token = fake:token("demo", 86400)
  local usage = require "usage"
  local c = usage.new { base_url = fake.base_url, access_token = token }
  local sub = assert(c:postUsageQuery { interval = "2025-01-06T00:00:00Z/2025-01-07T00:00:00Z" })
  assert(c:getUsageQueryExecutionIdResults(sub.executionId))
  c:close()
  local url = fake.base_url .. "/api/v2/usage/query/" .. sub.executionId .. "/results"

  local per = {}
  print(string.format("# Instructions per GET, by layer (callgrind, %d GETs, %s)", gets,
                      named and "interpreter built from liblua5.4.a" or "lua5.4"))
  print("")
  print("| layer | instructions per GET | over the layer below | what runs |")
  print("|---|---:|---:|---|")
  for _, l in ipairs(LAYERS) do
    local name, what, under = l[1], l[2], l[3]
    local counts = {}
    for _, k in ipairs { 10, 10 + gets } do
      local file = string.format("%s/%s.%d.out", DIR, name, k)
      local cmd
      if name == "curl" then
        cmd = string.format("build/bench/curl_loop get %s %d %s", q(url), k, q(token))
      else
        cmd = string.format("%s bench/callgrind.lua --layer %s %s %s %s %d", LUA, name, q(fake.base_url), q(token),
                            q(sub.executionId), k)
      end
      assert(ok_sh(string.format("env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' " ..
                                 "valgrind --tool=callgrind --callgrind-out-file=%s %s >/dev/null 2>%s.log",
                                 q(file), cmd, q(file))), "callgrind: the run failed, see " .. file .. ".log")
      counts[#counts + 1] = instructions(file)
    end
    per[name] = (counts[2] - counts[1]) / gets
    print(string.format("| %s | %.0f | %s | %s |", name, per[name],
                        under and string.format("%+.0f (%s)", per[name] - per[under], under) or "", what))
  end
end)
fake:stop()
assert(ok, err)
