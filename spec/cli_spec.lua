-- genesys-usage, the command line: run as a subprocess (the interpreter running these specs) against one
-- fake cloud with instant lifecycles. Expected values come from the library's own calls to the fake for
-- the same bodies and from the fake's raw records, never from another run of the command.

local H = require "helper"
local nginx = require "support.nginx"
local support = require "support.cli"
local usage = require "usage"
local json = require "usage.base.json"
local models = require "usage.api.models"
local operations = require "usage.api.operations"
local text = require "usage.cli.text"
local btext = require "usage.base.text"
local formats = require "usage.cli.formats"
local columns = require "usage.cli.columns"

local HEAVY = H.HEAVY -- "Bulk Export Service": counts above 2^31
local read_file = nginx.read_file
local COMMANDS = require "usage.cli.commands"

local function lines_of(s)
  local out = {}
  for line in s:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

local function int(v) return string.format("%.0f", v) end -- counts as integer text under both interpreters

-- an independent RFC 4180 field writer for the expectations
local function csv(v)
  v = v == nil and "" or tostring(v)
  if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

describe("genesys-usage", function()
  local fake, t, lib
  local three = usage.interval.days(3) -- the 3 complete days before today

  local fixture = support.with_fake()
  setup(function()
    fake, t = fixture.start()
    lib = usage.new { base_url = fake.base_url, client_id = "demo-client", client_secret = "demo-secret",
                      poll = { interval = 0.01 } }
  end)

  teardown(fixture.stop)

  local function run(args, opts) return t:run(args, opts) end

  local ok = support.ok

  ------------------------------------------------------------------------------------------------
  describe("flags derived from the models", function()
    -- the flow each command runs, and the body fields the report sets itself (the expectations of this spec)
    local FLOW_OF = { query = "query", ["client-query"] = "client_query", summary = "client_summary",
                      search = "search", aggregates = "aggregates", ["client-aggregates"] = "client_aggregates",
                      report = "aggregates" }
    local OWNED = { report = { groupBy = true, granularity = true, metrics = true, sortBy = true } }
    -- the flags of a help text, as a set
    local function flags_of(h)
      local out = {}
      for name in h:gmatch("\n%s+[-%w, ]-%-%-([%w%-]+)") do out[name] = true end
      return out
    end

    it("names a flag after its body field: kebab-case, minus the plural s of arrays", function()
      local agg = flags_of(ok(run { "aggregates", "--help" }).out)
      for _, name in ipairs { "template-uri", "http-method", "group-by", "sort-by", "oauth-client-id" } do
        assert.truthy(agg[name], "aggregates lacks --" .. name)
      end
      local search = flags_of(ok(run { "search", "--help" }).out)
      for _, name in ipairs { "metric", "oauth-client-name" } do assert.truthy(search[name], "search lacks --" .. name) end
      assert.is_nil(agg["template-uris"])
    end)

    it("gives each command the fields of its model, their values and the sort fields of its rows in --help", function()
      local flows = require "usage.flows"
      for _, cmd in ipairs(COMMANDS) do
        local h = ok(run { cmd.name, "--help" }).out
        assert.truthy(h:find("usage: genesys-usage " .. cmd.name, 1, true))
        assert.truthy(h:find("Examples:", 1, true))
        local have = flags_of(h)
        local flow = FLOW_OF[cmd.name] and flows.by_name[FLOW_OF[cmd.name]]
        local op = flow and flow.submit_op
        local fields = op and op.body and models.models[op.body].fields or {}
        local expected = 0
        for _, f in ipairs(fields) do
          local name = f.name:gsub("(%l)(%u)", "%1-%2"):lower()
          if f.array and name:sub(-1) == "s" then name = name:sub(1, -2) end
          if f.type ~= "interval" and not (OWNED[cmd.name] and OWNED[cmd.name][f.name]) then
            expected = expected + 1
            assert.truthy(have[name], cmd.name .. " lacks --" .. name)
            for _, v in ipairs(f.enum or {}) do assert.truthy(h:find(v, 1, true), cmd.name .. " help lacks " .. v) end
          elseif f.type ~= "interval" then
            assert.is_nil(have[name], cmd.name .. " has --" .. name .. ", a field it sets itself")
          end
        end
        if flow then
          -- the query section lists the body's fields, and no other
          local section = h:match("\nQuery %(fields of the request body [%w]+%):\n(.-)\n\n") or ""
          local n = 0
          for line in (section .. "\n"):gmatch("([^\n]*)\n") do
            if line:match("^   %-%-") then n = n + 1 end
          end
          assert.equal(expected, n, cmd.name .. ": the query section:\n" .. section)
        end
        if have["sort-by"] then
          local row_model = h:match("Rows: (%w+)%.") -- (the help names the rows' model)
          for _, field in ipairs(columns.sort_fields(row_model)) do
            assert.truthy(h:find(field, 1, true), cmd.name .. " help lacks the sort field " .. field)
          end
        end
      end
      local function help_flags(name) return flags_of(ok(run { name, "--help" }).out) end
      assert.is_nil(help_flags("client-aggregates")["user-id"])
      assert.truthy(help_flags("client-aggregates")["organization-id"])
      assert.truthy(help_flags("summary")["days"])   -- a query parameter
      assert.truthy(help_flags("aggregates")["job"]) -- a flow option
      assert.is_nil(help_flags("report")["job"])     -- (the report builds its own job)
    end)

    it("takes limits and defaults from the library", function()
      local h = ok(run { "query", "--help" }).out
      local L = require "usage.api.limits"
      assert.truthy(h:find(string.format("doubling up to %g s (default %g)", L.POLL_MAX_INTERVAL, L.POLL_INTERVAL), 1, true))
      assert.truthy(h:find(string.format("(default %g)", L.TIMEOUT), 1, true))
      local r = run { "aggregates", "--last", "2d", "--page-size", "1001" }
      assert.equal(2, r.code)
      assert.truthy(r.err:find("(1.." .. operations.by_name.getUsageAggregatesQueryJob.query.pageSize.max .. ")", 1, true))
    end)

    it("parses hostile argument lists without raising: an answer or one line of error", function()
      local parser = require("usage.cli.parser")
      local words = { "aggregates", "report", "summary", "--last", "7d", "--from", "--to", "2026-11-01", "--group-by",
                      "UserId,,", "--sort-by", ":", "a:b:c", "--metric", "--format", "csv", "-f", "-o", "--output",
                      "--", "-", "--=", "--last=", "-3", "\n", "\0", "\27[2J", string.rep("x", 3000), "--job", "é",
                      "--top", "1e309", "nan", "--page-size", "0x10", "--days", "--interval", "/", "--help" }
      math.randomseed(11)
      for _ = 1, 400 do
        local p = parser.new(COMMANDS)
        local argv = {}
        for i = 1, math.random(0, 8) do argv[i] = words[math.random(#words)] end
        local okp, good, result = pcall(p.parse, p, argv)
        assert.is_true(okp, table.concat(argv, " ") .. ": " .. tostring(good))
        if not good then
          assert.is_nil(result:find("[\r\n]"), result)
        end
      end
    end)

    it("prints the global help, the version, and exits 2 without a command", function()
      local r = ok(run { "--help" })
      for _, cmd in ipairs(COMMANDS) do assert.truthy(r.out:find(cmd.name, 1, true)) end
      assert.truthy(ok(run { "help", "report" }).out:find("--rank-by", 1, true))
      assert.truthy(ok(run { "--version" }).out:match("^genesys%-usage %d+%.%d+%.%d+"))
      local none = run({}, { raw = true })
      assert.equal(2, none.code)
      assert.truthy(none.err:find("usage:", 1, true))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("rows", function()
    local body = { interval = three.jobs, granularity = "Day", groupBy = { "OauthClientId" } }
    local args = { "aggregates", "--last", "3d", "--granularity", "day", "--group-by", "oauthclientid" }
    local rows

    setup(function()
      local err
      rows, err = lib:aggregates(body):all()
      assert.is_nil(err)
      assert.is_true(#rows > 20)
      -- the reference rows are the fake's raw records, summed per day and client
      local raw, n = {}, 0
      for _, rec in ipairs(fake:data(three.first, three.last)) do
        local key = rec.date .. " " .. rec.clientId
        if not raw[key] then n = n + 1 end
        raw[key] = (raw[key] or 0) + rec.requests
      end
      assert.equal(n, #rows)
      for _, row in ipairs(rows) do
        assert.equal(raw[row.date .. " " .. row.oauthClient.id], row.requestCount)
      end
    end)

    local function with(extra)
      local a = {}
      for i, v in ipairs(args) do a[i] = v end
      for _, v in ipairs(extra) do a[#a + 1] = v end
      return a
    end

    it("writes CSV with the columns the query fills, in one naming for both generations", function()
      local r = ok(run(with { "--format", "csv", "--verbose" })) -- (notes: on a terminal or with --verbose)
      local expect = { "date,oauthClientId,oauthClientName,requests,status200,status300,status400,status429,status500\r\n" }
      for _, row in ipairs(rows) do
        expect[#expect + 1] = table.concat({ row.date, row.oauthClient.id, csv(row.oauthClient.name), int(row.requestCount),
          int(row.status200), int(row.status300), int(row.status400), int(row.status429), int(row.status500) }, ",") .. "\r\n"
      end
      assert.equal(table.concat(expect), r.out)
      assert.truthy(r.out:find("Équipe Reporting", 1, true))
      assert.truthy(r.out:find("データ同期 bot", 1, true))
      assert.is_nil(r.out:find("e+", 1, true))
      assert.truthy(r.err:find("the rows cover " .. three.label, 1, true), r.err) -- CSV has no room for the days
    end)

    it("fills only what the query asks for: dimensions grouped by, metrics asked for", function()
      local r = ok(run { "aggregates", "--last", "3d", "--group-by", "TemplateUri", "--metric", "Requests,Status429",
                         "--format", "csv" })
      assert.equal("date,templateUri,requests,status429", lines_of(r.out)[1]:gsub("\r$", ""))
      local s = ok(run { "search", "--last", "3d", "--metric", "ClientName,Status429", "--format", "csv" })
      assert.equal("oauthClientName,status429", lines_of(s.out)[1]:gsub("\r$", ""))
      -- a metric asked for but left out of a row is 0; a dimension left out is empty
      local buf = {}
      local fh = { write = function(_, ...) for _, s2 in ipairs { ... } do buf[#buf + 1] = s2 end return true end }
      local cols = columns.select("OrganizationPublicApiUsage", "OrganizationPublicApiUsageQueryRequest",
                                  { groupBy = { "HttpMethod" }, metrics = { "Status429" } })
      local w = formats.writer("csv", fh, { columns = cols })
      w:write { { date = "2026-01-02" } }
      w:finish()
      assert.equal("date,httpMethod,status429\r\n2026-01-02,,0\r\n", table.concat(buf))
    end)

    it("gives the old and the new generation the same columns, dates and figures for the same days", function()
      local old = ok(run { "query", "--last", "3d", "--group-by", "OAuthClientId", "--metric", "Requests,Status429",
                           "--format", "csv" })
      local new = ok(run { "aggregates", "--last", "3d", "--group-by", "OauthClientId", "--metric", "Requests,Status429",
                           "--format", "csv" })
      local function sorted(s)
        local l = lines_of(s)
        table.sort(l)
        return l
      end
      assert.equal(lines_of(new.out)[1], lines_of(old.out)[1])
      assert.same(sorted(new.out), sorted(old.out))
    end)

    it("writes JSON as one object with the days, and NDJSON a row a line", function()
      local r = ok(run(with { "--format", "json" }))
      local v = json.decode(r.out)
      assert.equal("aggregates", v.command)
      assert.same({ first = three.first, last = three.last, count = 3, label = three.label, complete = true }, v.days)
      assert.equal(#rows, #v.rows)
      for i, row in ipairs(rows) do
        assert.equal(row.requestCount, v.rows[i].requests)
        assert.equal(row.oauthClient.id, v.rows[i].oauthClientId)
        assert.equal(row.date, v.rows[i].date)
      end
      assert.truthy(r.out:find('^{"command":"aggregates","days":{"first":"'))
      local nd = ok(run(with { "--format", "ndjson", "--verbose" }))
      local got = lines_of(nd.out)
      assert.equal(#rows, #got)
      for i, line in ipairs(got) do assert.same(v.rows[i], json.decode(line)) end
      assert.truthy(nd.err:find("the rows cover " .. three.label, 1, true))
    end)

    it("aligns the table by display width, with the days above, thousands separators and totals", function()
      local r = ok(run(with {}))
      local ls = lines_of(r.out)
      assert.equal("aggregates: " .. three.label .. " (UTC, 3 days)", ls[1])
      assert.equal("", ls[2])
      assert.equal(#rows + 6, #ls) -- days, blank, header, rule, rows, rule, total
      local w = btext.width(ls[3])
      local total = 0
      for i = 3, #ls do
        assert.equal(w, btext.width(ls[i]), "line " .. i .. " is misaligned: " .. ls[i])
      end
      for _, row in ipairs(rows) do total = total + row.requestCount end
      assert.truthy(ls[#ls]:find("^total %(" .. #rows .. " rows%)"))
      assert.truthy(ls[#ls]:find(" " .. btext.thousands(total) .. " ", 1, true), ls[#ls])
      assert.truthy(btext.thousands(total):find(",", 1, true))
      assert.equal("1,234,567", btext.thousands(1234567))
      assert.equal("-1,000", btext.thousands(-1000))
      assert.equal("999", btext.thousands(999))
      assert.equal(14, btext.width("データ同期 bot"))
    end)

    it("infers the format from --output's extension, refuses a mismatch, adds a BOM on request", function()
      for _, case in ipairs { { "x.csv", "^date,oauthClientId" }, { "x.json", '^{"command"' },
                              { "x.ndjson", '^{"date"' }, { "x.txt", "^aggregates: " } } do
        local path = t:path(case[1])
        local r = ok(run(with { "--output", path, "--quiet" }))
        assert.equal("", r.out)
        assert.equal("", r.err)
        assert.truthy(read_file(path):find(case[2]), case[1])
      end
      local bom = t:path("bom.csv")
      ok(run(with { "--output", bom, "--bom" }))
      assert.equal(text.BOM .. "date,", read_file(bom):sub(1, 8))
      for _, bad in ipairs { { "--output", "x.csv", "--format", "json" }, { "--output", "x.html" }, { "--bom" } } do
        local r = run(with(bad))
        assert.equal(2, r.code, support.show(r))
        assert.truthy(support.one_line(r.err))
      end
      assert.equal(0, #support.temp_files(t.dir))
    end)

    it("writes --output completely or not at all", function()
      local bad = t:path("never.csv")
      local f = run({ "aggregates", "--last", "3d", "--output", bad },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" } })
      assert.equal(77, f.code) -- EX_NOPERM
      assert.is_nil(read_file(bad))
      local full = run(with { "--format", "csv", "--output", "/dev/full", "--quiet" })
      assert.equal(1, full.code)
      assert.truthy(support.one_line(full.err), full.err)
      assert.truthy(full.err:find("cannot write /dev/full", 1, true))
      local d = run(with { "--format", "csv", "--output", t:path("no/such/dir/x.csv") })
      assert.equal(1, d.code)
      assert.truthy(d.err:find("no directory", 1, true), d.err)
      local dir = run(with { "--output", t.dir })
      assert.equal(1, dir.code)
      assert.truthy(dir.err:find("is a directory", 1, true), dir.err)
      local dev = ok(run(with { "--format", "csv", "--output", "/dev/stdout" }))
      assert.truthy(dev.out:find("^date,"))
      assert.equal(0, #support.temp_files(t.dir))
    end)

    it("sorts by a field of the rows, and refuses an unknown one before sending anything", function()
      local r = ok(run(with { "--sort", "requestCount:desc", "--format", "ndjson" }))
      local prev
      assert.equal(#rows, #lines_of(r.out))
      for _, l in ipairs(lines_of(r.out)) do
        local row = json.decode(l)
        if prev then assert.is_true(prev >= row.requests) end
        prev = row.requests
      end
      fake:clear_log()
      local bad = run(with { "--sort-by", "popularity:Desc" })
      assert.equal(2, bad.code)
      assert.truthy(bad.err:find("allowed: date, oauthClientId", 1, true), bad.err)
      assert.equal(0, #fake:log())
      ok(run(with { "--sort-by", ":Desc", "--format", "csv" })) -- both parts are optional
    end)

    it("prints a job's id when it starts and reads it again with --job, without submitting", function()
      local first = ok(run(with { "--format", "csv", "--verbose" }))
      local id = first.err:match("job ([%w%-]+) started")
      assert.truthy(id, first.err)
      assert.truthy(first.err:find("--job " .. id, 1, true))
      fake:clear_log()
      local again = ok(run { "aggregates", "--job", id, "--format", "csv" })
      assert.equal(first.out, again.out)
      assert.equal(0, #H.requests(fake, "/aggregates/query/jobs$", "POST"))
      assert.truthy(#H.requests(fake, "/aggregates/query/jobs/" .. id:gsub("%p", "%%%0"), "GET") > 0)
      -- the columns of a job read again are those its rows hold: the metrics it asked for, no others
      local m = ok(run { "aggregates", "--last", "2d", "--group-by", "TemplateUri", "--metric", "Requests,Status429",
                         "--format", "csv", "--verbose" })
      local mjob = m.err:match("job ([%w%-]+) started")
      assert.equal(m.out, ok(run { "aggregates", "--job", mjob, "--format", "csv" }).out)
      assert.equal("date,templateUri,requests,status429", lines_of(m.out)[1]:gsub("\r$", ""))
      local cid = ok(run { "client-aggregates", HEAVY, "--last", "2d", "--format", "csv", "--verbose" })
      local cjob = cid.err:match("job ([%w%-]+) started")
      local cagain = ok(run { "client-aggregates", HEAVY, "--job", cjob, "--format", "csv" })
      assert.equal(cid.out, cagain.out)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("every command in every format", function()
    local cases = {
      { "query", "--last", "2d", "--group-by", "OAuthClientId" },
      { "client-query", HEAVY, "--last", "2d", "--group-by", "TemplateUri" },
      { "summary", "--client-id", HEAVY, "--days", "3" },
      { "search", "--last", "2d", "--metric", "Date,ClientName,Status200", "--http-method", "GET" },
      { "aggregates", "--last", "2d", "--group-by", "TemplateUri" },
      { "client-aggregates", HEAVY, "--last", "2d", "--group-by", "OrganizationId" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local n
        for _, fmt in ipairs { "json", "ndjson", "csv", "table" } do
          local args = {}
          for i, a in ipairs(case) do args[i] = a end
          args[#args + 1], args[#args + 2], args[#args + 3] = "--format", fmt, "--quiet"
          local r = ok(run(args))
          assert.equal("", r.err)
          if fmt == "json" then
            n = #json.decode(r.out).rows
            assert.is_true(n > 0)
          elseif fmt == "ndjson" then
            assert.equal(n, #lines_of(r.out))
          elseif fmt == "csv" then
            assert.equal(n + 1, #lines_of(r.out))
            assert.is_nil(r.out:find("[^\r]\n"))
          else
            assert.equal(n + 6, #lines_of(r.out))
          end
        end
      end)
    end

    it("summary: --days N is the API's (today included); the days flags keep exactly those days", function()
      -- one row a day of the client's raw records (every organization) in today and yesterday: today has none
      local raw_days = {}
      for _, rec in ipairs(fake:data(H.day(-1), H.day(0), { scope = "all", client_id = HEAVY })) do
        raw_days[rec.date] = true
      end
      local expect = 0
      for _ in pairs(raw_days) do expect = expect + 1 end
      assert.equal(1, expect)
      local r = ok(run { "summary", HEAVY, "--days", "2", "--format", "json" })
      local v = json.decode(r.out)
      assert.equal(expect, #v.rows)
      -- the period printed is the one of the rows' dates: the fake serves nothing for today, so the rows
      -- end yesterday and the days they cover are complete
      assert.is_true(v.days.complete)
      assert.equal(H.day(-1), v.days.last)
      fake:clear_log()
      local l = ok(run { "summary", HEAVY, "--last", "3d", "--format", "json" })
      local d = json.decode(l.out)
      assert.equal(3, #d.rows)
      assert.equal(three.first, d.rows[1].date)
      assert.equal(three.last, d.rows[3].date)
      assert.equal("days=4", H.requests(fake, "/usage/summary$", "GET")[1].query)
    end)

    it("says on stderr when simple search stops at the API's 20,000 rows", function()
      fake:config { result_rows = 20500 }
      -- three columns: 20,500 rows stay under the service's 5 MB of results (every column would not); the
      -- fake's synthetic rows fill whole days from the first one: 7 days hold them all (rows dated outside
      -- the days asked for would be left out)
      local okr, r = pcall(run, { "search", "--last", "7d", "--metric", "Date,ClientName,Status200", "--format", "csv" })
      fake:config { result_rows = false }
      assert.is_true(okr, tostring(r))
      ok(r)
      assert.equal(20001, #lines_of(r.out))
      assert.truthy(r.err:find("at most 20,000 rows", 1, true), r.err)
    end)

    it("streams a large aggregates result as NDJSON", function()
      fake:config { result_rows = 25000 }
      local okr, r = pcall(run, { "aggregates", "--last", "7d", "--format", "ndjson", "--page-size", "1000" })
      fake:config { result_rows = false }
      assert.is_true(okr, tostring(r))
      ok(r)
      local n = select(2, r.out:gsub("\n", ""))
      assert.equal(25000, n)
      assert.is_nil(r.out:find("e+", 1, true))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("errors", function()
    it("prints an API error on one line with status, code and correlation id, and exits 77 or 1", function()
      local r = run({ "aggregates", "--last", "7d", "--format", "csv" },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" } })
      assert.equal(77, r.code) -- a permission refused: EX_NOPERM
      assert.equal("", r.out)
      assert.truthy(support.one_line(r.err), r.err)
      assert.truthy(r.err:find("HTTP 403", 1, true))
      assert.truthy(r.err:find("missing.any.permissions", 1, true))
      assert.truthy(r.err:find("correlation id %x+"))
      local nf = run { "summary", "00000000-0000-0000-0000-000000000000" }
      assert.equal(1, nf.code)
      assert.truthy(nf.err:find("HTTP 404 not.found", 1, true), nf.err)
    end)

    it("reports injected faults and failed jobs on one line", function()
      fake:fault { fault = "status", status = 400, code = "bad.request", message = "Injected for the CLI spec",
                   match = { method = "POST", path = "/api/v2/usage/query" } }
      local r = run { "query", "--last", "2d" }
      assert.equal(1, r.code)
      assert.truthy(support.one_line(r.err), r.err)
      assert.truthy(r.err:find("HTTP 400 bad.request: Injected for the CLI spec", 1, true))
      fake:fault { fault = "job_failed", match = { path = "aggregates" } }
      local f = run { "aggregates", "--last", "2d", "--quiet" }
      fake:clear_faults()
      assert.equal(1, f.code)
      assert.truthy(support.one_line(f.err), f.err)
      assert.truthy(f.err:find("query_failed", 1, true))
      -- with the job's id, to read it again
      assert.truthy(f.err:find(" %(job [%w%-]+: read it again with: genesys%-usage aggregates %-%-job [%w%-]+%)\n$"),
                    f.err)
    end)

    it("fails on bad credentials (77) and on a server that does not answer (75)", function()
      local r = run({ "query", "--last", "1d" }, { env = { GENESYSCLOUD_OAUTHCLIENT_SECRET = "wrong-secret" } })
      assert.equal(77, r.code)
      assert.truthy(support.one_line(r.err), r.err)
      local c = run { "query", "--last", "1d", "--base-url", "http://127.0.0.1:1", "--timeout", "2" }
      assert.equal(75, c.code)
      assert.truthy(support.one_line(c.err), c.err)
    end)

    it("exits 2 with one line naming what is missing when there are no credentials", function()
      local r = run({ "aggregates", "--last", "7d" },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = false, GENESYSCLOUD_OAUTHCLIENT_SECRET = false } })
      assert.equal(2, r.code)
      assert.truthy(support.one_line(r.err), r.err)
      assert.truthy(r.err:find("GENESYSCLOUD_OAUTHCLIENT_ID", 1, true))
      local s = run({ "aggregates", "--last", "7d" }, { env = { GENESYSCLOUD_OAUTHCLIENT_SECRET = false } })
      assert.equal(2, s.code)
      assert.truthy(s.err:find("GENESYSCLOUD_OAUTHCLIENT_SECRET", 1, true))
    end)

    local bad = {
      { { "aggregates", "--last", "7d", "--bogus" }, "unknown option --bogus" },
      { { "aggregates", "--last", "7d", "--grup-by", "TemplateUri" }, "did you mean --group-by" },
      { { "client-aggregates", HEAVY, "--last", "7d", "--user-id", "x" }, "an option of aggregates" },
      { { "aggregates", "--last", "7d", "--metric", "Requests,Bogus" }, "Status429" },
      { { "query", "--last", "7d", "--group-by", "Platform" }, "OAuthClientId" },
      { { "aggregates", "--last", "7d", "--format", "xml" }, "ndjson" },
      { { "aggregates", "--last", "7d", "--granularity", "Day", "--granularity", "Week" }, "at most 1 time" },
      { { "aggregates", "--last", "7d", "--page-size", "0" }, "out of range" },
      { { "aggregates", "--last", "7d", "--sort-by", "requestCount:Sideways" }, "Asc, Desc" },
      { { "aggregates", "--last", "7d", "--sort-by", "a:b:c" }, "too many" },
      { { "client-query", "--last", "7d" }, "--client-id" },
      { { "client-query", HEAVY, "--client-id", "other", "--last", "7d" }, "twice" },
      { { "summary", HEAVY, "--days", "-3" }, "-3" },
      { { "summary", HEAVY, "--days", "1e3" }, "--days" },
      { { "summary", HEAVY, "--days", "3", "--last", "3d" }, "not both" },
      { { "report", "--last", "7d", "--top", "lots" }, "--top" },
      { { "report", "--last", "7d", "--group-by", "UserId" }, "unknown option --group-by" },
      { { "query", "--last", "7d", "extra" }, "too many arguments" },
      { { "query", "--last", "7d", "--region", "mars_1" }, "unknown region" },
      { { "query", "--last", "7d", "--base-url", "ftp://example.com" }, "--base-url" },
      { { "query", "--last", "7d", "--timeout", "nan" }, "--timeout" },
      { { "aggregates", "--job", "j1", "--group-by", "UserId" }, "--job" },
      { { "querry" }, "did you mean query" },
      { { "frobnicate" }, "commands: query" },
      { { "--frobnicate" }, "unknown option" },
    }
    for _, case in ipairs(bad) do
      it("exits 2 for: " .. table.concat(case[1], " "), function()
        fake:clear_log()
        local r = run(case[1])
        assert.equal(2, r.code, support.show(r))
        assert.equal("", r.out)
        assert.truthy(support.one_line(r.err), r.err)
        assert.truthy(r.err:find(case[2], 1, true), r.err)
        assert.truthy(r.err:find("--help", 1, true), r.err)
        assert.truthy(support.no_trace(r), r.err)
        assert.equal(0, #fake:log()) -- nothing sent, not even a login
      end)
    end

    it("never prints a traceback, whatever the arguments", function()
      local odd = {
        { "--" }, { "query", "--" }, { "query", "--interval" }, { "query", "--interval=" }, { "query", "--interval", "x/y" },
        { "report", "--top", "-1", "--last", "1d" }, { "query", "--last", "0d" }, { "query", "-x" }, { "query", "-" },
        { "query", "--format=", "--last", "1d" }, { "summary", "" }, { "search", "--last", "1d", "--help=yes" },
        { "aggregates", "--from", "2025-01-05", "--to", "2025-01-01" }, { "help", "nope" },
        { "aggregates", "--interval", "2025-01-01T25:00:00Z/2025-01-02" }, { "aggregates", "--last", "99999999w" },
        { "query", "--last", "99999w" }, { "aggregates", "--month", "2026-13" }, { "query", "--from", "0000-01-01" },
        { "metrics", "--max-clients", "0" }, { "report", "--last", "1d", "--rank-by", "" }, { "query", "--profile", "" },
      }
      for _, args in ipairs(odd) do
        local r = run(args, { raw = true })
        assert.is_true(r.code == 1 or r.code == 2, support.show(r))
        assert.truthy(support.one_line(r.err), support.show(r))
        assert.truthy(support.no_trace(r), support.show(r))
      end
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("stderr", function()
    it("--verbose logs one line per request and never the secret or the token", function()
      local r = ok(run { "aggregates", "--last", "2d", "--verbose", "--format", "csv" })
      assert.truthy(r.err:find("POST /oauth/token -> 200", 1, true))
      assert.truthy(r.err:find("POST /api/v2/usage/aggregates/query/jobs -> 200", 1, true))
      assert.truthy(r.err:find("GET /api/v2/usage/aggregates/query/jobs/[%w%-]+ %-> 200"))
      assert.is_nil(r.err:find("demo-secret", 1, true))
      for line in r.err:gmatch("[^\n]+") do assert.truthy(line:find("^genesys%-usage: "), line) end
      local token = fake:token("demo")
      local tr = ok(run({ "query", "--last", "2d", "--verbose" },
                        { env = { GENESYSCLOUD_ACCESS_TOKEN = token, GENESYSCLOUD_OAUTHCLIENT_ID = false,
                                  GENESYSCLOUD_OAUTHCLIENT_SECRET = false } }))
      assert.is_nil(tr.err:find("/oauth/token", 1, true)) -- the token is used as it is
      assert.is_nil(tr.err:find(token, 1, true))
    end)

    it("draws a progress line only on a terminal (forced here), and not with --quiet", function()
      local plain = ok(run { "aggregates", "--last", "2d", "--format", "csv", "--quiet" })
      assert.equal("", plain.err)
      local r = ok(run({ "aggregates", "--last", "2d", "--format", "csv" }, { env = { GENESYS_USAGE_PROGRESS = "1" } }))
      assert.truthy(r.err:find("\r\27[K", 1, true))
      assert.truthy(r.err:find("aggregates: %a+  polls %d+  pages %d+  rows [%d,]+"))
      assert.equal(plain.out, r.out)
      local q = ok(run({ "aggregates", "--last", "2d", "--quiet" }, { env = { GENESYS_USAGE_PROGRESS = "1" } }))
      assert.equal("", q.err)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("the script", function()
    it("finds its modules from any directory and honours the region and base URL settings", function()
      ok(run({ "--version" }, { cwd = "/" }))
      local g = ok(run({ "query", "--last", "2d", "--format", "json" }, { env = { GENESYSCLOUD_REGION = "eu-west-1" } }))
      local b = ok(run({ "query", "--last", "2d", "--format", "json", "--base-url", fake.base_url },
                       { env = { GENESYS_USAGE_BASE_URL = false, GENESYSCLOUD_REGION = "mypurecloud.ie" } }))
      assert.equal(g.out, b.out)
    end)

    it("quotes CSV fields per RFC 4180 and prints counts as integers", function()
      assert.equal('a,"b,c","say ""hi""","x\ny","r\rs",Équipe\r\n',
                   text.csv_line { "a", "b,c", 'say "hi"', "x\ny", "r\rs", "Équipe" })
      assert.equal("5994582206", btext.number(5994582206.0))
      assert.equal("1000000000000000", btext.number(1e15))
    end)
  end)
end)
