-- genesys-usage, the command line: run as a subprocess (the interpreter running these specs) against
-- one fake cloud with instant lifecycles. Expected values come from the library's own calls to the
-- fake for the same bodies and from the fake's raw records, never from another run of the command.

local fakecloud = require "fakecloud"
local H = require "helper"
local nginx = require "support.nginx"
local usage = require "usage"
local json = require "usage.json"
local models = require "usage.models"
local operations = require "usage.operations"
local cli = require "usage.cli"
local output = require "usage.cli_output"
local report = require "usage.report"

local INTERP, REPO = fakecloud.interpreter, fakecloud.repo
local HEAVY = H.HEAVY -- "Bulk Export Service": counts above 2^31
-- recent (aggregates jobs may start at most a year ago): the old generation counts the 2 days of
-- [start, end), aggregates jobs count 3 (start and end days inclusive)
local FIXED = H.day(-12) .. "T00:00:00Z/" .. H.day(-10) .. "T00:00:00Z"
local sh_quote, read_file = nginx.sh_quote, nginx.read_file

local function lines_of(s)
  local out = {}
  for line in s:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

local function int(v) -- counts as integer text under both interpreters
  return string.format("%.0f", v)
end

-- an independent RFC 4180 field writer for the expectations
local function csv(v)
  v = v == nil and "" or tostring(v)
  if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

local function is_command(name)
  for _, c in ipairs(cli.commands) do
    if c.name == name then return true end
  end
  return false
end

describe("genesys-usage", function()
  local fake, tmp, lib
  local seq = 0

  setup(function()
    fake = fakecloud.start { config = { lifecycle = { polls = 0 } } }
    tmp = nginx.temp_dir("usage-cli")
    lib = usage.new { base_url = fake.base_url, client_id = "demo-client", client_secret = "demo-secret",
                      poll = { interval = 0.01 } }
  end)

  teardown(function()
    if fake then fake:stop() end
    if tmp then nginx.remove_dir(tmp) end
  end)

  -- run(args, opts) -> { code, out, err }. opts.env: extra variables (false unsets one);
  -- opts.raw: do not add --poll-interval; opts.cwd, opts.script (path of the script).
  local function run(args, opts)
    opts = opts or {}
    seq = seq + 1
    local base = tmp .. "/run" .. seq
    local env = {
      PATH = os.getenv("PATH"), HOME = os.getenv("HOME") or "/tmp",
      GENESYSCLOUD_OAUTHCLIENT_ID = "demo-client", GENESYSCLOUD_OAUTHCLIENT_SECRET = "demo-secret",
      GENESYS_USAGE_BASE_URL = fake.base_url,
    }
    for k, v in pairs(opts.env or {}) do env[k] = v or nil end
    local argv = {}
    for i, a in ipairs(args) do argv[i] = a end
    local fast = not opts.raw and is_command(argv[1])
    for _, a in ipairs(argv) do
      if a == "--help" then fast = false end
    end
    if fast then
      argv[#argv + 1] = "--poll-interval"
      argv[#argv + 1] = "0.01"
    end
    local parts = { "cd", sh_quote(opts.cwd or REPO), "&&", "env", "-i" }
    for k, v in pairs(env) do parts[#parts + 1] = sh_quote(k .. "=" .. v) end
    parts[#parts + 1] = INTERP
    parts[#parts + 1] = sh_quote(opts.script or "bin/genesys-usage")
    for _, a in ipairs(argv) do parts[#parts + 1] = sh_quote(a) end
    parts[#parts + 1] = ">" .. sh_quote(base .. ".out") .. " 2>" .. sh_quote(base .. ".err") ..
      "; echo $? >" .. sh_quote(base .. ".rc")
    os.execute(table.concat(parts, " "))
    return {
      code = tonumber(read_file(base .. ".rc")),
      out = read_file(base .. ".out") or "",
      err = read_file(base .. ".err") or "",
    }
  end

  local function one_line(s)
    return select(2, s:gsub("\n", "")) == 1 and s:sub(-1) == "\n"
  end

  local function no_trace(r)
    assert.is_nil(r.err:find("traceback", 1, true), r.err)
    assert.is_nil(r.err:find("internal error", 1, true), r.err)
    assert.is_nil(r.err:find("%.lua:%d+"), r.err)
  end

  ------------------------------------------------------------------------------------------------
  describe("flags derived from the models", function()
    it("names a flag after its body field: kebab-case, minus the plural s of arrays", function()
      local function flag(model, name) return cli.field_flag(models.models[model].by_name[name]) end
      assert.equal("template-uri", flag("OrganizationPublicApiUsageQueryRequest", "templateUris"))
      assert.equal("http-method", flag("OrganizationPublicApiUsageQueryRequest", "httpMethods"))
      assert.equal("group-by", flag("OrganizationPublicApiUsageQueryRequest", "groupBy"))
      assert.equal("sort-by", flag("OrganizationPublicApiUsageQueryRequest", "sortBy"))
      assert.equal("oauth-client-id", flag("OrganizationPublicApiUsageQueryRequest", "oauthClientIds"))
      assert.equal("metric", flag("ApiUsageSimpleSearch", "metrics"))
      assert.equal("oauth-client-name", flag("ApiUsageSimpleSearch", "oauthClientNames"))
      assert.equal("granularity", flag("ApiUsageOrganizationQuery", "granularity"))
    end)

    it("gives each command exactly the fields of its submit operation's request model, with their values", function()
      for _, cmd in ipairs(cli.commands) do
        local flags = cli.command_flags(cmd)
        local op = operations.by_name[cmd.submit]
        local help = cli.command_help(cmd)
        if op.body then
          for _, f in ipairs(models.models[op.body].fields) do
            if f.type ~= "interval" and not (cmd.owns and cmd.owns[f.name]) then
              local name = cli.field_flag(f)
              assert.is_truthy(flags.by_name[name], cmd.name .. " lacks --" .. name)
              assert.is_truthy(help:find("--" .. name, 1, true), cmd.name .. " help lacks --" .. name)
              for _, v in ipairs(f.enum or {}) do
                assert.is_truthy(help:find(v, 1, true), cmd.name .. " help lacks " .. v)
              end
            end
          end
        end
        -- and no body flag that its model does not have
        for name, flag in pairs(flags.by_name) do
          if flag.kind == "body" then
            assert.equal(op.body, cmd.submit and operations.by_name[cmd.submit].body)
            assert.is_truthy(models.models[op.body].by_name[flag.field.name], name)
          end
        end
        for _, p in ipairs(op.params) do assert.is_truthy(flags.by_name[cli.kebab(p)], p) end
      end
      assert.is_nil(cli.command_flags(cli.commands[6]).by_name["user-id"]) -- client-aggregates
      assert.is_truthy(cli.command_flags(cli.commands[6]).by_name["organization-id"])
      assert.is_truthy(cli.command_flags(cli.commands[3]).by_name["days"]) -- summary: query parameter
    end)

    it("prints help for every command, with examples, and the global help and version", function()
      local r = run { "--help" }
      assert.equal(0, r.code)
      for _, cmd in ipairs(cli.commands) do assert.is_truthy(r.out:find(cmd.name, 1, true)) end
      for _, cmd in ipairs(cli.commands) do
        local h = run { cmd.name, "--help" }
        assert.equal(0, h.code)
        assert.is_truthy(h.out:find("usage: genesys-usage " .. cmd.name, 1, true))
        assert.is_truthy(h.out:find("Examples:", 1, true))
        assert.is_truthy(h.out:find("--format", 1, true))
      end
      local v = run { "--version" }
      assert.equal(0, v.code)
      assert.is_truthy(v.out:match("^genesys%-usage %d+%.%d+%.%d+"))
      local none = run({}, { raw = true })
      assert.equal(2, none.code)
      assert.is_truthy(none.err:find("usage:", 1, true))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("output of a known seeded query", function()
    local body = { interval = FIXED, granularity = "Day", groupBy = { "OauthClientId", "OauthClientName" } }
    local args = { "aggregates", "--interval", FIXED, "--granularity", "day", "--group-by",
                   "OauthClientId,oauthclientname" }
    local rows

    setup(function()
      local err
      rows, err = lib:aggregates(body):all()
      assert.is_nil(err)
      assert.is_true(#rows > 20)
    end)

    local function with(extra)
      local a = {}
      for i, v in ipairs(args) do a[i] = v end
      for _, v in ipairs(extra) do a[#a + 1] = v end
      return a
    end

    it("writes exact CSV (RFC 4180, UTF-8 names intact, counts as integers)", function()
      local r = run(with { "--format", "csv" })
      assert.equal(0, r.code, r.err)
      assert.equal("", r.err)
      local expect = { "date,platform,httpMethod,templateUri,oauthClient.id,oauthClient.name,user.id," ..
                       "requestCount,status200,status300,status400,status429,status500\r\n" }
      for _, row in ipairs(rows) do
        expect[#expect + 1] = table.concat({
          csv(row.date), "", "", "", csv(row.oauthClient.id), csv(row.oauthClient.name), "",
          int(row.requestCount), int(row.status200), int(row.status300), int(row.status400),
          int(row.status429), int(row.status500) }, ",") .. "\r\n"
      end
      assert.equal(table.concat(expect), r.out)
      assert.is_truthy(r.out:find("Équipe Reporting", 1, true))
      assert.is_truthy(r.out:find("データ同期 bot", 1, true))
      assert.is_nil(r.out:find("e+", 1, true))
    end)

    it("agrees with the fake's raw records", function()
      local recs = fake:data(H.day(-12), H.day(-10)) -- aggregates jobs include the end's day
      local sums = {}
      for _, rec in ipairs(recs) do
        local k = rec.date .. "|" .. rec.clientId
        sums[k] = (sums[k] or 0) + rec.requests
      end
      local r = run(with { "--format", "csv" })
      local n = 0
      for i, line in ipairs(lines_of(r.out:gsub("\r\n", "\n"))) do
        if i > 1 then
          local date, id, count = line:match("^([^,]*),,,,([^,]*),.-,,(%d+),")
          assert.is_truthy(date, line)
          assert.equal(int(sums[date .. "|" .. id]), count)
          n = n + 1
        end
      end
      local keys = 0
      for _ in pairs(sums) do keys = keys + 1 end
      assert.equal(keys, n)
    end)

    it("writes exact JSON (one array of the rows) and NDJSON (one row a line)", function()
      local r = run(with { "--format", "json" })
      assert.equal(0, r.code, r.err)
      local encoded = {}
      for i, row in ipairs(rows) do encoded[i] = json.encode(row) end
      assert.equal("[\n" .. table.concat(encoded, ",\n") .. "\n]\n", r.out)
      local decoded = json.decode(r.out)
      assert.equal(#rows, #decoded)
      assert.equal(rows[1].requestCount, decoded[1].requestCount)

      local nd = run(with { "--format", "ndjson" })
      assert.equal(0, nd.code, nd.err)
      assert.equal(table.concat(encoded, "\n") .. "\n", nd.out)
    end)

    it("aligns the table by display width and ends with a totals line", function()
      local r = run(with {})
      assert.equal(0, r.code, r.err)
      local ls = lines_of(r.out)
      assert.equal(#rows + 4, #ls) -- header, rule, rows, rule, total
      assert.is_truthy(ls[1]:find("oauthClient.name", 1, true))
      assert.is_nil(ls[1]:find("user.id", 1, true)) -- empty columns are left out of the table
      local w = output.width(ls[1])
      local utf8_line
      for i, l in ipairs(ls) do
        assert.equal(w, output.width(l), "line " .. i .. " is misaligned: " .. l)
        if l:find("データ", 1, true) then utf8_line = l end
      end
      assert.is_truthy(utf8_line)
      assert.is_true(#utf8_line > w) -- more bytes than columns: alignment counts characters
      local total = 0
      for _, row in ipairs(rows) do total = total + row.requestCount end
      assert.is_truthy(ls[#ls]:find("^total %(" .. #rows .. " rows%)"))
      assert.is_truthy(ls[#ls]:find(" " .. int(total) .. " ", 1, true))
    end)

    it("--output writes the file and nothing to stdout", function()
      local path = tmp .. "/out.csv"
      local r = run(with { "--format", "csv", "--output", path, "--quiet" })
      assert.equal(0, r.code, r.err)
      assert.equal("", r.out)
      assert.equal("", r.err)
      local direct = run(with { "--format", "csv" })
      assert.equal(direct.out, read_file(path))
      local fh = io.popen("ls " .. sh_quote(tmp) .. " | grep -c tmp- || true")
      assert.equal("0", fh:read("*l"))
      fh:close()
      -- a failed run leaves no file behind
      local bad = tmp .. "/never.csv"
      local f = run({ "aggregates", "--interval", FIXED, "--output", bad },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" } })
      assert.equal(1, f.code)
      assert.is_nil(read_file(bad))
    end)

    it("fails with one line, and exit 1, when the output cannot be written", function()
      local r = run(with { "--format", "csv", "--output", "/dev/full" })
      assert.equal(1, r.code)
      assert.is_true(one_line(r.err), r.err)
      assert.is_truthy(r.err:find("cannot write /dev/full", 1, true))
      local d = run(with { "--format", "csv", "--output", tmp .. "/no/such/dir/x.csv" })
      assert.equal(1, d.code)
      assert.is_true(one_line(d.err), d.err)
    end)

    it("passes --sort-by (alias --sort) with its order to the job", function()
      local r = run(with { "--sort", "requestCount:desc", "--format", "ndjson" })
      assert.equal(0, r.code, r.err)
      local prev
      for _, l in ipairs(lines_of(r.out)) do
        local row = json.decode(l)
        if prev then assert.is_true(prev >= row.requestCount) end
        prev = row.requestCount
      end
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("every command in every format", function()
    local cases = {
      { "query", "--interval", FIXED, "--group-by", "OAuthClientId" },
      { "client-query", HEAVY, "--interval", FIXED, "--group-by", "TemplateUri" },
      { "summary", "--client-id", HEAVY, "--days", "3" },
      { "search", "--interval", FIXED, "--metric", "Date,ClientName,Status200", "--http-method", "GET" },
      { "aggregates", "--interval", FIXED, "--group-by", "TemplateUri" },
      { "client-aggregates", HEAVY, "--interval", FIXED, "--group-by", "OrganizationId" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local counts = {}
        for _, fmt in ipairs { "json", "ndjson", "csv", "table" } do
          local args = {}
          for i, a in ipairs(case) do args[i] = a end
          args[#args + 1] = "--format"
          args[#args + 1] = fmt
          local r = run(args)
          assert.equal(0, r.code, r.err)
          assert.equal("", r.err)
          if fmt == "json" then
            local rows = json.decode(r.out)
            assert.is_true(#rows > 0)
            counts.n = #rows
          elseif fmt == "ndjson" then
            assert.equal(counts.n, #lines_of(r.out))
          elseif fmt == "csv" then
            assert.equal(counts.n + 1, #lines_of(r.out))
            assert.is_nil(r.out:find("[^\r]\n"))
          else
            assert.equal(counts.n + 4, #lines_of(r.out))
            assert.is_truthy(r.out:find("\ntotal %(" .. counts.n .. " rows?%)"))
          end
        end
      end)
    end

    it("takes --from with a duration ago, and summary's default --days", function()
      local r = run { "aggregates", "--from", "3d", "--format", "json" }
      assert.equal(0, r.code, r.err)
      assert.is_true(#json.decode(r.out) > 0)
      local s = run { "summary", HEAVY, "--format", "json" }
      assert.equal(0, s.code, s.err)
      assert.is_true(#json.decode(s.out) >= 7)
    end)

    it("says on stderr when simple search stops at the API's 20,000 rows", function()
      fake:config { result_rows = 20500 }
      local ok, r = pcall(run, { "search", "--interval", FIXED, "--format", "csv" })
      fake:config { result_rows = false }
      assert.is_true(ok, tostring(r))
      assert.equal(0, r.code, r.err)
      assert.equal(20001, #lines_of(r.out))
      assert.is_truthy(r.err:find("at most 20000 rows", 1, true), r.err)
    end)

    it("summary gives the same rows as the library", function()
      local expect, err = lib:client_summary(HEAVY, { days = "2" })
      assert.is_nil(err)
      local r = run { "summary", HEAVY, "--days", "2", "--format", "ndjson" }
      assert.equal(0, r.code, r.err)
      local got = lines_of(r.out)
      assert.equal(#expect.results, #got)
      for i, row in ipairs(expect.results) do assert.equal(json.encode(row), got[i]) end
    end)

    it("streams a large aggregates result as NDJSON", function()
      fake:config { result_rows = 25000 }
      local ok, r = pcall(run, { "aggregates", "--interval", FIXED, "--format", "ndjson", "--page-size", "1000" })
      fake:config { result_rows = false }
      assert.is_true(ok, tostring(r))
      assert.equal(0, r.code, r.err)
      local n, big = 0, false
      for line in r.out:gmatch("[^\n]+") do
        n = n + 1
        if n <= 100 then
          local row = json.decode(line)
          assert.is_truthy(row.requestCount)
          if row.requestCount > 2 ^ 31 then big = true end
        end
      end
      assert.equal(25000, n)
      assert.is_true(big)
      assert.is_nil(r.out:find("e+", 1, true))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("report", function()
    local INTERVAL = H.day(-16) .. "/" .. H.day(-10)

    it("says so when an interval has no usage at all", function()
      -- the fake has usage every day since 2020 and jobs reach back one year at most: an empty result instead
      fake:config { result_rows = 0 }
      local ok, r = pcall(run, { "report", "--interval", INTERVAL })
      fake:config { result_rows = false }
      assert.is_true(ok, tostring(r))
      assert.equal(0, r.code, r.err)
      local _, n = r.out:gsub("%(no usage in this interval%)", "")
      assert.equal(2, n) -- both tables
    end)

    it("ranks clients and endpoints as the raw records do, with 429 and 5xx ratios", function()
      local recs = fake:data(H.day(-16), H.day(-10))
      local by_client, by_endpoint = {}, {}
      for _, rec in ipairs(recs) do
        local c = by_client[rec.clientId] or { id = rec.clientId, name = rec.clientName, req = 0, s429 = 0, s500 = 0 }
        c.req, c.s429, c.s500 = c.req + rec.requests, c.s429 + rec.status429, c.s500 + rec.status500
        by_client[rec.clientId] = c
        local k = rec.httpMethod .. " " .. rec.templateUri
        local e = by_endpoint[k] or { req = 0 }
        e.req = e.req + rec.requests
        by_endpoint[k] = e
      end
      local ranked = {}
      for _, c in pairs(by_client) do ranked[#ranked + 1] = c end
      table.sort(ranked, function(a, b) return a.req > b.req end)

      local r = run { "report", "--interval", INTERVAL, "--top", "3", "--format", "csv" }
      assert.equal(0, r.code, r.err)
      local ls = lines_of((r.out:gsub("\r\n", "\n")))
      assert.equal("section,rank,oauthClient.id,oauthClient.name,httpMethod,templateUri,requests,share," ..
                   "status429,ratio429,status500,ratio5xx", ls[1])
      assert.equal(7, #ls)
      for i = 1, 3 do
        local c = ranked[i]
        assert.equal(table.concat({ "client", i, c.id, csv(c.name), "", "", int(c.req) }, ","),
                     ls[i + 1]:match("^(.-),[^,]*,[^,]*,[^,]*,[^,]*,[^,]*$"))
        local ratio429 = ls[i + 1]:match(",([^,]*),[^,]*,[^,]*$")
        assert.equal(string.format("%.6f", c.s429 / c.req), ratio429)
      end
      for i = 5, 7 do
        local method, uri, req = ls[i]:match("^endpoint,%d+,,,([^,]*),([^,]*),(%d+),")
        assert.equal(int(by_endpoint[method .. " " .. uri].req), req)
      end
    end)

    it("prints a table and writes a self-contained SVG chart and HTML page", function()
      local svg, html = tmp .. "/chart.svg", tmp .. "/page.html"
      local r = run { "report", "--interval", INTERVAL, "--top", "25", "--svg", svg, "--html", html }
      assert.equal(0, r.code, r.err)
      assert.is_truthy(r.out:find("Top 25 OAuth clients by requests", 1, true))
      assert.is_truthy(r.out:find("Top 25 endpoints by requests", 1, true))
      assert.is_truthy(r.out:find("Bulk Export Service", 1, true))
      assert.is_truthy(r.out:find("429 ratio", 1, true))
      assert.is_truthy(r.err:find("chart written to " .. svg, 1, true))
      local s = read_file(svg)
      assert.is_truthy(s:find("^<%?xml"))
      assert.is_truthy(s:find("<svg xmlns=\"http://www.w3.org/2000/svg\"", 1, true))
      assert.is_truthy(s:find("データ同期 bot", 1, true))
      assert.is_truthy(s:find("Équipe Reporting", 1, true))
      assert.is_truthy(s:find("<polyline", 1, true))
      assert.is_truthy(s:find("requests per day", 1, true))
      assert.is_nil(s:find("<script", 1, true))
      assert.is_nil(s:find("href", 1, true))
      assert.is_truthy(s:find("</svg>\n$"))
      local h = read_file(html)
      assert.is_truthy(h:find("^<!DOCTYPE html>"))
      assert.is_truthy(h:find("<svg", 1, true))
      assert.is_nil(h:find("<script", 1, true))
      assert.is_nil(h:find("<link", 1, true))
    end)

    it("escapes names for XML and speaks JSON", function()
      assert.equal("A &amp; B &lt;x&gt; &quot;q&quot; &#39;s&#39;", report.xml_escape("A & B <x> \"q\" 's'"))
      local r = run { "report", "--interval", INTERVAL, "--top", "2", "--format", "json" }
      assert.equal(0, r.code, r.err)
      local v = json.decode(r.out)
      assert.equal(2, #v.topClients)
      assert.equal(2, #v.topEndpoints)
      assert.equal("Bulk Export Service", v.topClients[1].oauthClient.name)
      assert.is_true(v.totals.requests >= v.topClients[1].requests)
      local nd = run { "report", "--interval", INTERVAL, "--top", "2", "--format", "ndjson" }
      assert.equal(0, nd.code, nd.err)
      assert.equal(4, #lines_of(nd.out))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("errors", function()
    it("prints an API error on one line with status, code and correlation id, and exits 1", function()
      local r = run({ "aggregates", "--last", "7d", "--format", "csv" },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" } })
      assert.equal(1, r.code)
      assert.equal("", r.out)
      assert.is_true(one_line(r.err), r.err)
      assert.is_truthy(r.err:find("HTTP 403", 1, true))
      assert.is_truthy(r.err:find("missing.any.permissions", 1, true))
      assert.is_truthy(r.err:find("correlation id %x+"))

      local nf = run { "summary", "00000000-0000-0000-0000-000000000000" }
      assert.equal(1, nf.code)
      assert.is_true(one_line(nf.err), nf.err)
      assert.is_truthy(nf.err:find("HTTP 404 not.found", 1, true))
    end)

    it("reports injected faults and failed jobs on one line", function()
      fake:fault { fault = "status", status = 400, code = "bad.request", message = "Injected for the CLI spec",
                   match = { method = "POST", path = "/api/v2/usage/query" } }
      local r = run { "query", "--interval", FIXED }
      assert.equal(1, r.code)
      assert.is_true(one_line(r.err), r.err)
      assert.is_truthy(r.err:find("HTTP 400 bad.request: Injected for the CLI spec", 1, true))

      fake:fault { fault = "job_failed", match = { path = "aggregates" } }
      local f = run { "aggregates", "--interval", FIXED }
      fake:clear_faults()
      assert.equal(1, f.code)
      assert.is_true(one_line(f.err), f.err)
      assert.is_truthy(f.err:find("query_failed", 1, true))
    end)

    it("fails on bad credentials and on a server that does not answer with exit 1", function()
      local r = run({ "query", "--last", "1d" }, { env = { GENESYSCLOUD_OAUTHCLIENT_SECRET = "wrong" } })
      assert.equal(1, r.code)
      assert.is_true(one_line(r.err), r.err)
      assert.is_nil(r.err:find("wrong", 1, true))
      local c = run { "query", "--last", "1d", "--base-url", "http://127.0.0.1:1", "--timeout", "2" }
      assert.equal(1, c.code)
      assert.is_true(one_line(c.err), c.err)
    end)

    it("exits 2 with one line and a hint when credentials are missing", function()
      local r = run({ "aggregates", "--last", "7d" },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = false, GENESYSCLOUD_OAUTHCLIENT_SECRET = false } })
      assert.equal(2, r.code)
      assert.is_true(one_line(r.err), r.err)
      assert.is_truthy(r.err:find("GENESYSCLOUD_OAUTHCLIENT_ID", 1, true))
      local s = run({ "aggregates", "--last", "7d" }, { env = { GENESYSCLOUD_OAUTHCLIENT_SECRET = false } })
      assert.equal(2, s.code)
      assert.is_truthy(s.err:find("GENESYSCLOUD_OAUTHCLIENT_SECRET", 1, true))
    end)

    local bad = {
      { { "aggregates", "--last", "7d", "--bogus" }, "unknown option --bogus" },
      { { "aggregates", "--last", "7d", "--grup-by", "TemplateUri" }, "did you mean --group-by" },
      { { "client-aggregates", HEAVY, "--last", "7d", "--user-id", "x" }, "option of aggregates" },
      { { "aggregates", "--last", "7d", "--metric", "Requests,Bogus" }, "Status429" },
      { { "query", "--last", "7d", "--group-by", "Platform" }, "OAuthClientId" },
      { { "aggregates", "--last", "7d", "--format", "xml" }, "ndjson" },
      { { "aggregates", "--interval", "2025-01-01" }, "--interval" },
      { { "aggregates", "--interval", "2025-02-30/2025-03-01" }, "no such date" },
      { { "aggregates", "--interval", "2025-01-01/2025-06-01" }, "one year" },
      { { "aggregates", "--last", "soon" }, "--last" },
      { { "aggregates", "--last", "7d", "--interval", FIXED }, "only one" },
      { { "aggregates", "--to", "2025-01-01" }, "--to needs --from" },
      { { "aggregates" }, "missing the interval" },
      { { "aggregates", "--last", "7d", "--page-size", "0" }, "out of range" },
      { { "aggregates", "--last", "7d", "--sort-by", "requestCount:Sideways" }, "Asc, Desc" },
      { { "client-query", "--last", "7d" }, "--client-id" },
      { { "summary", HEAVY, "--days", "-3" }, "--days" },
      { { "report", "--last", "7d", "--top", "lots" }, "--top" },
      { { "report", "--last", "7d", "--group-by", "UserId" }, "unknown option --group-by" },
      { { "query", "--last", "7d", "extra" }, "unexpected argument" },
      { { "query", "--last", "7d", "--region", "mars_1" }, "unknown region" },
      { { "query", "--last", "7d", "--base-url", "ftp://example.com" }, "--base-url" },
      { { "querry" }, "did you mean query" },
      { { "--frobnicate" }, "expected a command" },
    }
    for _, case in ipairs(bad) do
      it("exits 2 for: " .. table.concat(case[1], " "), function()
        local r = run(case[1])
        assert.equal(2, r.code, r.err)
        assert.equal("", r.out)
        assert.is_true(one_line(r.err), r.err)
        assert.is_truthy(r.err:find(case[2], 1, true), r.err)
        assert.is_truthy(r.err:find("--help", 1, true), r.err)
        no_trace(r)
      end)
    end

    it("never prints a traceback, whatever the arguments", function()
      local odd = {
        { "--" }, { "query", "--interval" }, { "query", "--interval=" }, { "query", "--interval", "x/y" },
        { "aggregates", "--sort-by", "a:b:c", "--last", "1d" },
        { "report", "--top", "-1", "--last", "1d" }, { "query", "--last", "0d" }, { "query", "-x" },
        { "query", "--format=", "--last", "1d" }, { "summary", "" }, { "summary", "--days", "1e3", HEAVY },
        { "query", "--last", "1d", "--timeout", "nan" }, { "search", "--last", "1d", "--help=yes" },
        { "aggregates", "--from", "2025-01-05", "--to", "2025-01-01" }, { "help", "nope" },
        { "aggregates", "--interval", "2025-01-01T25:00:00Z/2025-01-02" }, { "aggregates", "--last", "99999999w" },
      }
      for _, args in ipairs(odd) do
        local r = run(args, { raw = true })
        assert.is_true(r.code == 1 or r.code == 2, table.concat(args, " ") .. ": " .. tostring(r.code))
        assert.is_true(one_line(r.err), table.concat(args, " ") .. ": " .. r.err)
        no_trace(r)
      end
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("stderr", function()
    it("--verbose logs one line per request and never the secret or the token", function()
      local r = run { "aggregates", "--interval", FIXED, "--verbose", "--format", "csv" }
      assert.equal(0, r.code, r.err)
      assert.is_truthy(r.err:find("POST /oauth/token -> 200", 1, true))
      assert.is_truthy(r.err:find("POST /api/v2/usage/aggregates/query/jobs -> 200", 1, true))
      assert.is_truthy(r.err:find("GET /api/v2/usage/aggregates/query/jobs/[%w%-]+ %-> 200"))
      assert.is_nil(r.err:find("demo-secret", 1, true))
      for line in r.err:gmatch("[^\n]+") do assert.is_truthy(line:find("^genesys%-usage: "), line) end

      local token = fake:token("demo")
      local t = run({ "query", "--interval", FIXED, "--verbose" },
                    { env = { GENESYSCLOUD_ACCESS_TOKEN = token, GENESYSCLOUD_OAUTHCLIENT_ID = false,
                              GENESYSCLOUD_OAUTHCLIENT_SECRET = false } })
      assert.equal(0, t.code, t.err)
      assert.is_nil(t.err:find("/oauth/token", 1, true)) -- the token is used as it is
      assert.is_truthy(t.err:find("POST /api/v2/usage/query -> 200", 1, true))
      assert.is_nil(t.err:find(token, 1, true))
    end)

    it("draws a progress line only on a terminal (forced here), and not with --quiet", function()
      local plain = run { "aggregates", "--interval", FIXED, "--format", "csv" }
      assert.equal("", plain.err)
      local r = run({ "aggregates", "--interval", FIXED, "--format", "csv" }, { env = { GENESYS_USAGE_PROGRESS = "1" } })
      assert.equal(0, r.code)
      assert.is_truthy(r.err:find("\r\27[K", 1, true))
      assert.is_truthy(r.err:find("aggregates: %a+  polls %d+  pages %d+  rows %d+"))
      assert.equal(plain.out, r.out)
      local q1 = run({ "aggregates", "--interval", FIXED, "--quiet" }, { env = { GENESYS_USAGE_PROGRESS = "1" } })
      assert.equal("", q1.err)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("the script", function()
    it("finds its modules from any directory and honours the region and base URL settings", function()
      local r = run({ "--version" }, { cwd = "/", script = REPO .. "/bin/genesys-usage" })
      assert.equal(0, r.code, r.err)
      local g = run({ "query", "--interval", FIXED, "--format", "json" },
                    { env = { GENESYSCLOUD_REGION = "eu-west-1" } })
      assert.equal(0, g.code, g.err)
      local b = run({ "query", "--interval", FIXED, "--format", "json", "--base-url", fake.base_url },
                    { env = { GENESYS_USAGE_BASE_URL = false, GENESYSCLOUD_REGION = "mypurecloud.ie" } })
      assert.equal(0, b.code, b.err)
      assert.equal(g.out, b.out)
    end)

    it("quotes CSV fields per RFC 4180 and prints counts as integers", function()
      assert.equal('a,"b,c","say ""hi""","x\ny","r\rs",Équipe\r\n',
                   output.csv_line { "a", "b,c", 'say "hi"', "x\ny", "r\rs", "Équipe" })
      assert.equal("5994582206", output.number_text(5994582206.0))
      assert.equal("1000000000000000", output.number_text(1e15))
      assert.equal(14, output.width("データ同期 bot"))
      assert.equal(16, output.width("Équipe Reporting"))
    end)
  end)
end)
