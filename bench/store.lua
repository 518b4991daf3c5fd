-- bench/store.lua: the history store (usage.store, SQLite) against the sqlite3 shell on the same machine
-- (`make bench-store`). Not a test: nothing here passes or fails on a figure. Three measures:
--   insert   storing the rows of a sync (store:put: one transaction, as a sync stores a job) against the
--            sqlite3 shell's .import of the same rows as CSV, into a new table (the plain import) and into
--            a table with the store's key (org, day, client, templateUri, method);
--   report   a year's report from a store of a 1,000-seat org's year (several million rows) through
--            store:usage against the same SQL run by the sqlite3 shell (.timer);
--   size     the store's file size per stored row.
-- Contenders run alternated, REPS repetitions each; ratios are taken within each repetition and the
-- medians reported, in markdown on stdout and in bench/results/store-latest.md.
--   lua5.4 bench/store.lua [--reps N] [--only insert,report] [--days N] [--per-day N] [--keep]
-- The year's store is built once into $TMPDIR/genesys-usage-bench/ (--keep leaves it there for the next run).

local function setpaths(interp)
  local build = interp == "luajit" and "build/luajit" or "build/lua5.4"
  package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;" .. package.path
  package.cpath = build .. "/?.so;" .. package.cpath
end
setpaths(type(jit) == "table" and "luajit" or "lua5.4")

local core = require "usage.core"
local json = require "usage.base.json"
local interval = require "usage.base.interval"

local args = { reps = 5, days = 30, per_day = 3000, year_days = 365, year_per_day = 12000 }
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--reps" then args.reps = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--days" then args.days = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--per-day" then args.per_day = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--year-days" then args.year_days = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--year-per-day" then args.year_per_day = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--only" then
      args.only = {}
      for w in arg[i + 1]:gmatch("[^,]+") do args.only[w] = true end
      i = i + 1
    elseif a == "--keep" then args.keep = true
    elseif a == "--worker" then args.worker = arg[i + 1]; i = i + 1
    elseif a == "--file" then args.file = arg[i + 1]; i = i + 1
    else
      io.stderr:write("bench/store.lua: unknown argument ", a, "\n")
      os.exit(2)
    end
    i = i + 1
  end
end

---------------------------------------------------------------------------------------------------
-- the rows: a deterministic org. A 1,000-seat org: 150 OAuth clients (integrations, bots, apps), each
-- calling a few dozen of 400 endpoints (templateUri x method) on a given day: about 12,000 rows a day.

local function lcg(seed)
  local s = seed % 2147483647
  if s <= 0 then s = s + 2147483646 end
  return function(n)
    s = (s * 48271) % 2147483647
    return s % n
  end
end

local METHODS = { "GET", "GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE" }
local CLIENTS, ENDPOINTS = {}, {}
for i = 1, 150 do
  CLIENTS[i] = { id = string.format("%08x-%04x-4%03x-9%03x-%012x", i * 2654435761 % 4294967296, i, i, i, i * 7919),
                 name = (i % 5 == 0 and "Reporting " or i % 5 == 1 and "Bot " or "Integration ") .. i }
end
do
  local words = { "analytics/conversations/details/query", "users/{userId}", "routing/queues/{queueId}/members",
                  "conversations/calls/{conversationId}", "architect/flows", "telephony/providers/edges",
                  "outbound/campaigns/{campaignId}", "quality/evaluations/query", "presence/definitions",
                  "recording/jobs/{jobId}", "groups/{groupId}/members", "authorization/roles" }
  local n = 0
  for i = 1, 400 do
    n = n + 1
    ENDPOINTS[n] = { uri = "api/v2/" .. words[(i - 1) % #words + 1] .. (i > #words and ("/v" .. i) or ""),
                     method = METHODS[(i * 7) % #METHODS + 1] }
  end
end

-- day_rows(day_number, per_day) -> API rows (OrganizationPublicApiUsage, as an aggregates job returns them)
local function day_rows(d, per_day)
  local rnd = lcg(d * 7919 + 17)
  local out, seen = {}, {}
  local date = interval.date(d)
  local tries = 0
  while #out < per_day and tries < per_day * 4 do
    tries = tries + 1
    local c = rnd(#CLIENTS) + 1
    local e = (c * 37 + rnd(80)) % #ENDPOINTS + 1 -- each client sticks to its own endpoints
    local key = c * 1000 + e
    if not seen[key] then
      seen[key] = true
      local client, ep = CLIENTS[c], ENDPOINTS[e]
      local requests = rnd(50000) + (c % 10 == 0 and 2000000 or 1)
      local s429 = rnd(100)
      local s400 = s429 + rnd(1000)
      local s500 = rnd(50)
      local s300 = rnd(20)
      out[#out + 1] = {
        date = date, oauthClient = { id = client.id, name = client.name, selfUri = "/api/v2/oauth/clients/" .. client.id },
        templateUri = ep.uri, httpMethod = ep.method, requestCount = requests + s400 + s500 + s300,
        status200 = requests, status300 = s300, status400 = s400, status429 = s429, status500 = s500,
      }
    end
  end
  return out
end

local function csv_field(s)
  if s:find('[,"\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function write_csv(path, rows, org)
  local fh = assert(io.open(path, "wb"))
  fh:write("org,day,client_id,client_name,template_uri,http_method,requests,status200,status300,status400,status429,status500\n")
  for _, r in ipairs(rows) do
    fh:write(org, ",", r.date, ",", r.oauthClient.id, ",", csv_field(r.oauthClient.name), ",", csv_field(r.templateUri),
             ",", r.httpMethod, string.format(",%d,%d,%d,%d,%d,%d\n", r.requestCount, r.status200, r.status300,
             r.status400, r.status429, r.status500))
  end
  fh:close()
end

local FIRST_DAY = interval.parse_date("2025-01-01")

---------------------------------------------------------------------------------------------------
-- workers (one process each, so that every contender starts alike)

local function cpu() return os.clock() end

if args.worker == "insert" then
  local store = require "usage.store"
  local rows = {}
  for d = FIRST_DAY, FIRST_DAY + args.days - 1 do
    for _, r in ipairs(day_rows(d, args.per_day)) do rows[#rows + 1] = r end
  end
  collectgarbage()
  os.remove(args.file)
  local s = assert(store.open(args.file))
  local t0, c0 = core.now(), cpu()
  local stats = assert(s:put("acme", interval.date(FIRST_DAY), interval.date(FIRST_DAY + args.days - 1), rows))
  local wall, used = core.now() - t0, cpu() - c0
  s:close()
  io.write(json.encode { wall = wall, cpu = used, rows = stats.rows }, "\n")
  os.exit(0)
elseif args.worker == "csv" then
  local rows = {}
  for d = FIRST_DAY, FIRST_DAY + args.days - 1 do
    for _, r in ipairs(day_rows(d, args.per_day)) do rows[#rows + 1] = r end
  end
  write_csv(args.file, rows, "acme")
  io.write(json.encode { rows = #rows }, "\n")
  os.exit(0)
elseif args.worker == "build" then
  local store = require "usage.store"
  os.remove(args.file)
  local s = assert(store.open(args.file))
  local total = 0
  local step = 5
  for d = FIRST_DAY, FIRST_DAY + args.year_days - 1, step do
    local last = math.min(d + step - 1, FIRST_DAY + args.year_days - 1)
    local rows = {}
    for x = d, last do
      for _, r in ipairs(day_rows(x, args.year_per_day)) do rows[#rows + 1] = r end
    end
    total = total + assert(s:put("acme", interval.date(d), interval.date(last), rows)).rows
    io.stderr:write(string.format("\rbench/store.lua: building a year's store: %d rows", total))
  end
  io.stderr:write("\n")
  s:close()
  io.write(json.encode { rows = total }, "\n")
  os.exit(0)
elseif args.worker == "report" then
  local store = require "usage.store"
  local s = assert(store.open(args.file, { readonly = true }))
  local out = {}
  for _, q in ipairs(json.decode(os.getenv("BENCH_QUERIES"))) do
    collectgarbage()
    local t0, c0 = core.now(), cpu()
    local r = assert(s:usage { first = q.first, last = q.last, by = q.by, per = q.per })
    out[#out + 1] = { wall = core.now() - t0, cpu = cpu() - c0, rows = r.row_count, sql = r.sql }
  end
  s:close()
  io.write(json.encode(out), "\n")
  os.exit(0)
end

---------------------------------------------------------------------------------------------------
-- the driver

local function wanted(name) return not args.only or args.only[name] end

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function worker(interp, name, extra, env)
  local cmd = (env or "") .. interp .. " bench/store.lua --worker " .. name .. " " .. (extra or "")
  local out = sh(cmd)
  local line = out:match("([%[{][^\n]*[%]}])%s*$")
  local ok, v = pcall(json.decode, line or "")
  if not ok or type(v) ~= "table" then error("bench/store.lua: `" .. cmd .. "` printed:\n" .. out, 0) end
  return v
end

-- timed(cmd) -> wall, cpu (user + sys) of a shell command, through bash's `time`
local function timed(cmd)
  local out = sh("bash -c " .. q("TIMEFORMAT='@@ %R %U %S'; time ( " .. cmd .. " >/dev/null 2>&1 )"))
  local r, u, s = out:match("@@ ([%d.]+) ([%d.]+) ([%d.]+)")
  if not r then error("bench/store.lua: could not time `" .. cmd .. "`:\n" .. out, 0) end
  return tonumber(r), tonumber(u) + tonumber(s)
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

local report = {}
local function say(fmt, ...)
  local line = string.format(fmt, ...)
  print(line)
  report[#report + 1] = line
end

local tmp = (os.getenv("TMPDIR") ~= nil and os.getenv("TMPDIR") ~= "" and os.getenv("TMPDIR") or "/tmp") ..
            "/genesys-usage-bench"
os.execute("mkdir -p " .. q(tmp))
local interps = { "lua5.4" }
if sh("command -v luajit") ~= "" then interps[#interps + 1] = "luajit" end
local sqlite_version = (sh("sqlite3 --version"):match("^(%S+)")) or "?"
local cpu_model = (sh("grep -m1 'model name' /proc/cpuinfo"):match(":%s*(.-)%s*$")) or "?"
say("Machine: %s, %s cores; sqlite3 %s; Lua %s; LuaJIT %s.", cpu_model, (sh("nproc"):match("%d+")) or "?",
    sqlite_version, (sh("lua5.4 -v"):match("Lua (%S+)")) or "?", (sh("luajit -v"):match("LuaJIT (%S+)")) or "-")
say("")

if wanted("insert") then
  local csv = tmp .. "/rows.csv"
  local n = worker("lua5.4", "csv", "--file " .. q(csv) .. " --days " .. args.days .. " --per-day " .. args.per_day).rows
  local plain_db, keyed_db = tmp .. "/import-plain.sqlite3", tmp .. "/import-keyed.sqlite3"
  local KEYED = "CREATE TABLE usage_csv (org TEXT NOT NULL, day TEXT NOT NULL, client_id TEXT NOT NULL, " ..
    "client_name TEXT, template_uri TEXT NOT NULL, http_method TEXT NOT NULL, requests INTEGER NOT NULL, " ..
    "status200 INTEGER NOT NULL, status300 INTEGER NOT NULL, status400 INTEGER NOT NULL, status429 INTEGER NOT NULL, " ..
    "status500 INTEGER NOT NULL, PRIMARY KEY (org, day, client_id, template_uri, http_method)) WITHOUT ROWID"
  local results = { plain = {}, keyed = {} }
  for _, i in ipairs(interps) do results[i] = {} end
  for rep = 1, args.reps do
    os.remove(plain_db)
    local w, c = timed("sqlite3 " .. q(plain_db) .. " " .. q(".import --csv " .. csv .. " usage_csv"))
    table.insert(results.plain, { wall = w, cpu = c })
    os.remove(keyed_db)
    w, c = timed("sqlite3 " .. q(keyed_db) .. " " .. q(KEYED) .. " " .. q(".import --csv --skip 1 " .. csv .. " usage_csv"))
    table.insert(results.keyed, { wall = w, cpu = c })
    for _, interp in ipairs(interps) do
      local r = worker(interp, "insert", "--file " .. q(tmp .. "/insert.sqlite3") .. " --days " .. args.days ..
                       " --per-day " .. args.per_day)
      assert(r.rows == n, "the store stored " .. tostring(r.rows) .. " rows of " .. n)
      table.insert(results[interp], r)
    end
    io.stderr:write(string.format("bench/store.lua: insert repetition %d/%d\n", rep, args.reps))
  end
  local size = io.open(tmp .. "/insert.sqlite3", "rb"):seek("end")
  say("## Storing the rows of a sync")
  say("")
  say("%d rows (%d days of %d rows: one job of a mid-size org), stored by store:put in one transaction (as a sync " ..
      "stores a job: normalize, checks, keys, multi-row INSERTs) against the sqlite3 shell's `.import` of the same " ..
      "rows as CSV (%.1f MB), into a new table (plain) and into a table keyed like the store. Wall and CPU " ..
      "(user+sys) seconds, medians of %d alternated repetitions; ratios are rates (rows/s) against the import's, " ..
      "taken within each repetition.", n, args.days, args.per_day, io.open(csv, "rb"):seek("end") / 1e6, args.reps)
  say("")
  say("| contender | wall s | CPU s | rows/s (wall) | vs plain import (wall / CPU) | vs keyed import (wall / CPU) |")
  say("|---|---:|---:|---:|---:|---:|")
  local function row(name, list)
    local rw, rc, kw, kc = {}, {}, {}, {}
    local walls, cpus = {}, {}
    for i, x in ipairs(list) do
      walls[i], cpus[i] = x.wall, x.cpu
      rw[i] = results.plain[i].wall / x.wall
      rc[i] = results.plain[i].cpu / x.cpu
      kw[i] = results.keyed[i].wall / x.wall
      kc[i] = results.keyed[i].cpu / x.cpu
    end
    say("| %s | %.3f | %.3f | %d | %.2fx / %.2fx | %.2fx / %.2fx |", name, median(walls), median(cpus),
        math.floor(n / median(walls)), median(rw), median(rc), median(kw), median(kc))
  end
  row("sqlite3 .import, plain table (baseline)", results.plain)
  row("sqlite3 .import, keyed table", results.keyed)
  for _, interp in ipairs(interps) do row("store:put, " .. interp, results[interp]) end
  say("")
  say("Store file after the insert: %.1f MB, %.1f bytes per stored row.", size / 1e6, size / n)
  say("")
end

if wanted("report") then
  local year = tmp .. string.format("/year-%d-%d.sqlite3", args.year_days, args.year_per_day)
  if not io.open(year, "rb") then
    local t0 = core.now()
    local b = worker("lua5.4", "build", "--file " .. q(year) .. " --year-days " .. args.year_days .. " --year-per-day " ..
                     args.year_per_day)
    io.stderr:write(string.format("bench/store.lua: built %d rows in %.1f s\n", b.rows, core.now() - t0))
  end
  local rows = tonumber((sh("sqlite3 " .. q(year) .. " 'SELECT count(*) FROM usage_rows'")):match("%d+"))
  local size = io.open(year, "rb"):seek("end")
  local first, last = interval.date(FIRST_DAY), interval.date(FIRST_DAY + args.year_days - 1)
  local queries = {
    { name = "year by client and endpoint (the report's table)", first = first, last = last, by = "client_endpoint", per = "span" },
    { name = "year by client, per month", first = first, last = last, by = "client", per = "month" },
    { name = "year, daily totals", first = first, last = last, by = "org", per = "day" },
  }
  local env = "BENCH_QUERIES=" .. q(json.encode(queries)) .. " "
  local lib = {}
  for _, interp in ipairs(interps) do lib[interp] = {} end
  local shell = {}
  local function substitute(sql)
    local params = sql.params
    local i = 0
    return (sql.text:gsub("%?", function()
      i = i + 1
      local v = params[i]
      if type(v) == "number" then return string.format("%d", v) end
      return "'" .. tostring(v):gsub("'", "''") .. "'"
    end))
  end
  for rep = 1, args.reps do
    local first_run
    for _, interp in ipairs(interps) do
      local r = worker(interp, "report", "--file " .. q(year), env)
      first_run = first_run or r
      table.insert(lib[interp], r)
    end
    local times = {}
    for k, qy in ipairs(first_run) do
      local script = tmp .. "/query.sql"
      local fh = assert(io.open(script, "wb"))
      fh:write(".timer on\n.output /dev/null\n", substitute(qy.sql), ";\n")
      fh:close()
      local out = sh("sqlite3 -readonly " .. q(year) .. " < " .. q(script))
      local real, user, sys = out:match("Run Time: real ([%d.]+) user ([%d.]+) sys ([%d.]+)")
      if not real then error("bench/store.lua: sqlite3 did not time the query:\n" .. out, 0) end
      times[k] = { wall = tonumber(real), cpu = tonumber(user) + tonumber(sys) }
    end
    table.insert(shell, times)
    io.stderr:write(string.format("bench/store.lua: report repetition %d/%d\n", rep, args.reps))
  end
  say("## A year's report from a store of a 1,000-seat org")
  say("")
  say("%d rows (%d days of about %d rows: 150 OAuth clients x 400 endpoints), file %.1f MB (%.1f bytes per " ..
      "stored row). store:usage (SQL grouping, keys to names, counts read as text and converted) against the same " ..
      "SQL run by the sqlite3 shell (`.timer`, output to /dev/null); medians of %d alternated repetitions, the " ..
      "ratio (time against the shell's) taken within each.", rows, args.year_days, args.year_per_day, size / 1e6,
      size / rows, args.reps)
  say("")
  say("| query | result rows | sqlite3 shell s | %s |", table.concat((function()
    local t = {}
    for i, interp in ipairs(interps) do t[i] = "store:usage, " .. interp .. " s (ratio)" end
    return t
  end)(), " | "))
  say("|---|---:|---:|%s", string.rep("---:|", #interps))
  for k, qy in ipairs(queries) do
    local sw = {}
    for rep = 1, args.reps do sw[rep] = shell[rep][k].wall end
    local cells = {}
    for i, interp in ipairs(interps) do
      local lw, ratio = {}, {}
      for rep = 1, args.reps do
        lw[rep] = lib[interp][rep][k].wall
        ratio[rep] = lw[rep] / shell[rep][k].wall
      end
      cells[i] = string.format("%.3f (%.2fx)", median(lw), median(ratio))
    end
    say("| %s | %d | %.3f | %s |", qy.name, lib[interps[1]][1][k].rows, median(sw), table.concat(cells, " | "))
  end
  say("")
  if not args.keep then os.remove(year) end
end

os.execute("mkdir -p bench/results")
local fh = io.open("bench/results/store-latest.md", "wb")
if fh then
  fh:write(table.concat(report, "\n"), "\n")
  fh:close()
end
