-- bench/workload.lua: one measured run of one workload with this module, printing one JSON line.
-- Run by bench/run.lua under lua5.4 and under luajit (never by the specs):
--   get      BASE TOKEN EXECUTION_ID N   N sequential getUsageQueryExecutionIdResults calls
--   pages    BASE ID SECRET PAGE_SIZE     an aggregates flow, every row iterated (RSS sampled)
--   decode   DIR                          plain cjson.decode of DIR/page-*.json (the floor's half)
--   gather   BASE ID SECRET N             N query flows at once under usage.gather
--   sequence BASE ID SECRET N             the same N flows one after the other
--   poll     BASE ID SECRET N             N query flows at once with default poll settings
--   split    BASE ID SECRET MODE          a year of aggregates: MODE "split" (one call, jobs started
--                                        together) or "sequential" (the same job bodies one after another)

local usage = require "usage"
local core = require "usage.core"

local mode = arg[1]

local function out(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    parts[#parts + 1] = string.format("%q:%s", k, type(v) == "number" and string.format("%.6f", v) or string.format("%q", tostring(v)))
  end
  io.write("{", table.concat(parts, ","), "}\n")
end

local function status_kb(field)
  local f = io.open("/proc/self/status")
  local text = f:read("*a")
  f:close()
  return tonumber(text:match(field .. ":%s*(%d+) kB"))
end

local function client(base, id, secret, extra)
  local o = { base_url = base, client_id = id, client_secret = secret,
              poll = { interval = 0.001, max_interval = 0.001, timeout = 600 } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return usage.new(o)
end

-- aggregates jobs may not start more than a year ago: 30 recent days (both ends inclusive)
local function day(offset) return os.date("!%Y-%m-%d", os.time() + offset * 86400) end
local BODY = { interval = day(-39) .. "/" .. day(-10), groupBy = { "OauthClientId" } }
-- the query flows ask for one day: the server answers from memory, so its latency setting is what it
-- costs (a month grouped by client keeps the fake's single worker busy for milliseconds per query)
local SMALL = { interval = "2025-01-06T00:00:00Z/2025-01-07T00:00:00Z" }

if mode == "get" then
  local base, token, id, n = arg[2], arg[3], arg[4], tonumber(arg[5])
  local c = usage.new { base_url = base, access_token = token }
  assert(c:getUsageQueryExecutionIdResults(id)) -- warm-up: connect outside the timing
  local t0, c0 = core.now(), os.clock()
  for _ = 1, n do
    local data, err = c:getUsageQueryExecutionIdResults(id)
    if not data then error(tostring(err)) end
  end
  out { requests = n, seconds = core.now() - t0, cpu = os.clock() - c0 }

elseif mode == "pages" then
  local c = client(arg[2], arg[3], arg[4])
  local page_size = tonumber(arg[5])
  collectgarbage()
  local rss0 = status_kb("VmRSS")
  local t0, c0 = core.now(), os.clock()
  local pager = c:aggregates(BODY, { page_size = page_size })
  local rows, rss10, requests = 0, nil, 0
  for row in pager:rows() do
    rows = rows + 1
    requests = requests + (row.requestCount or 0)
    if rows == 10 * page_size then rss10 = status_kb("VmRSS") end
  end
  local seconds, cpu = core.now() - t0, os.clock() - c0
  out { rows = rows, pages = pager.page_count, seconds = seconds, cpu = cpu, rss_start_kb = rss0,
        rss_10_kb = rss10 or 0, rss_end_kb = status_kb("VmRSS"), peak_kb = status_kb("VmHWM"), checksum = requests }

elseif mode == "decode" then
  -- one page at a time, as a streaming consumer would (and as the pager does): read a body into a
  -- Lua string (the fetch half of the floor has no Lua string; making one, and the collector's work
  -- for it, belongs to the decode), decode it with plain cjson, drop it
  local cjson = require "cjson"
  local dir = arg[2]
  local paths = {}
  local p = io.popen("ls " .. dir .. "/page-*.json")
  for path in p:lines() do paths[#paths + 1] = path end
  p:close()
  local seconds, cpu, rows = 0, 0, 0
  for _, path in ipairs(paths) do
    local f = assert(io.open(path, "rb"))
    local t0, c0 = core.now(), os.clock()
    local body = f:read("*a")
    rows = rows + #cjson.decode(body).entities
    f:close()
    seconds, cpu = seconds + core.now() - t0, cpu + os.clock() - c0
  end
  out { pages = #paths, rows = rows, seconds = seconds, cpu = cpu }

elseif mode == "gather" or mode == "sequence" or mode == "poll" then
  local extra = mode == "poll" and { poll = { timeout = 600 } } or nil
  local c = client(arg[2], arg[3], arg[4], extra)
  local n = tonumber(arg[5])
  assert(c:postUsageQuery(SMALL)) -- log in outside the timing
  local t0 = core.now()
  local fns = {}
  for i = 1, n do fns[i] = function() return c:query(SMALL) end end
  local failures = 0
  if mode == "sequence" then
    for i = 1, n do if not fns[i]() then failures = failures + 1 end end
  else
    local results = usage.gather(fns)
    for i = 1, n do if not results[i] then failures = failures + 1 end end
  end
  out { flows = n, seconds = core.now() - t0, failures = failures, requests = c:stats().requests - 2 }
elseif mode == "split" then
  local flows = require "usage.flows"
  local c = client(arg[2], arg[3], arg[4], { poll = { interval = 0.25, max_interval = 1, timeout = 600 } })
  -- the longest span a job may start on now (read strictly: 364 or 365 whole days up to yesterday)
  local days = assert(usage.interval.one_year())
  local body = { interval = days.jobs, granularity = "Day", groupBy = { "OauthClientId" } }
  local bodies = flows.plan(flows.by_name.aggregates, body)
  assert(c:postUsageQuery(SMALL)) -- log in outside the timing
  local before = c:stats().requests
  local t0 = core.now()
  local rows, failures = 0, 0
  if arg[5] == "split" then
    local all = c:aggregates(body, { page_size = 1000 }):all()
    if all then rows = #all else failures = 1 end
  else
    for _, b in ipairs(bodies) do
      local all = c:aggregates(b, { page_size = 1000 }):all()
      if all then rows = rows + #all else failures = failures + 1 end
    end
  end
  out { seconds = core.now() - t0, rows = rows, jobs = #bodies, days = days.count, failures = failures,
        requests = c:stats().requests - before }
else
  io.stderr:write("unknown workload ", tostring(mode), "\n")
  os.exit(2)
end
