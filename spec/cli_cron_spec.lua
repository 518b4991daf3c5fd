-- genesys-usage in cron and for finance (issue 18): silent on success when stderr is not a terminal, the
-- job ids of a run that fails or is interrupted, exit codes a monitor can route (75 EX_TEMPFAIL, 77
-- EX_NOPERM), "which client hit which endpoint" in every report format, an explicit --profile that wins
-- over the variables, help examples that never wrap inside a command line, the README's luarocks advice;
-- and the readings of the days on the command line: --this-month on the 1st, the summary's period from
-- its rows, the strict one-year limit, the old generation past it, ISO 8601 as users write it.
-- Every expectation is computed from what the fake served (its raw records, its request log).

local H = require "helper"
local nginx = require "support.nginx"
local support = require "support.cli"
local usage = require "usage"
local json = require "usage.base.json"
local failure = require "usage.cli.failure"
local commands = require "usage.cli.commands"
local parser = require "usage.cli.parser"

local iv = usage.interval
local read_file = nginx.read_file
local HEAVY = H.HEAVY

local function lines_of(s)
  local out = {}
  for line in s:gmatch("([^\n]*)\n") do out[#out + 1] = (line:gsub("\r$", "")) end
  return out
end

describe("genesys-usage in cron", function()
  local fake, t
  local fixture = support.with_fake()
  setup(function() fake, t = fixture.start() end)
  teardown(fixture.stop)
  local ok = support.ok

  local function check(cond, r, what)
    if not cond then error((what or "assertion failed") .. "\n" .. support.show(r), 2) end
  end

  ------------------------------------------------------------------------------------------------
  describe("stderr", function()
    it("is empty on success when it is not a terminal: no job started, no file written", function()
      local runs = {
        { "aggregates", "--last", "3d", "--group-by", "OauthClientId", "--output", t:path("a.csv") },
        { "aggregates", "--last", "120d", "--metric", "Requests", "--output", t:path("b.ndjson") }, -- 2 jobs
        { "report", "--last", "3d", "--output", t:path("r.html"), "--svg", t:path("r.svg") },
        { "client-aggregates", HEAVY, "--last", "2d", "--format", "csv" },
        { "query", "--last", "2d", "--format", "ndjson" },
        { "metrics", "--output", t:path("m.prom") },
        { "aggregates", "--interval", H.day(-3) .. "T08:00:00Z/" .. H.day(-2) .. "T10:00:00Z" },
      }
      for _, args in ipairs(runs) do
        local r = ok(t:run(args))
        check(r.err == "", r, "stderr is not empty")
      end
    end)

    it("names each job with --verbose, with the command that reads it again", function()
      local r = ok(t:run { "report", "--last", "3d", "--verbose", "--format", "csv" })
      local id = r.err:match("job ([%w%-]+) started %(read it again with: genesys%-usage aggregates %-%-job ([%w%-]+)%)")
      check(id, r, "no job id")
      local posts = H.requests(fake, "/aggregates/query/jobs$", "POST")
      check(#posts >= 1, r)
    end)

    it("names the jobs of a run that fails", function()
      fake:fault { fault = "job_failed", match = { path = "aggregates" } }
      local r = t:run { "aggregates", "--last", "2d", "--output", t:path("f.csv") }
      fake:clear_faults()
      check(r.code == 1, r)
      check(support.one_line(r.err), r, "not one line")
      local id = r.err:match("query_failed.* %(job ([%w%-]+): read it again with: genesys%-usage aggregates %-%-job " ..
                             "([%w%-]+)%)\n$")
      check(id, r, "no job id")
      -- the id is the job the fake created
      local found = false
      for _, e in ipairs(H.requests(fake, "/aggregates/query/jobs/", "GET")) do found = found or e.path:find(id, 1, true) end
      check(found, r, "the fake never saw job " .. id)
    end)

    it("names the job of a run interrupted while it waits", function()
      fake:config { lifecycle = { polls = 1000000 } }
      fake:clear_log()
      local p = t:spawn({ "aggregates", "--last", "2d", "--output", t:path("i.csv") })
      local started = false
      for _ = 1, 500 do
        if #H.requests(fake, "/aggregates/query/jobs/", "GET") > 0 then started = true break end
        nginx.sleep(0.02)
      end
      if not started then p:stop() end
      assert.is_true(started, "the run never polled: " .. p:stderr())
      p:signal("INT")
      local code = p:wait(20)
      fake:config { lifecycle = { polls = 0 } }
      if not code then p:stop() end
      local r = { code = code, err = p:stderr(), out = p:stdout(), args = { "aggregates (spawned)" } }
      check(code == 130, r, "exit " .. tostring(code))
      local id = H.requests(fake, "/aggregates/query/jobs/", "GET")[1].path:match("/jobs/([%w%-]+)")
      check(r.err:find("interrupted (SIGINT) (job " .. id .. ": read it again with: genesys-usage aggregates --job " ..
                       id .. ")", 1, true), r)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("exit codes", function()
    after_each(function() fake:clear_faults() end)

    local function run_with_fault(fault, args, env)
      fake:fault(fault)
      local r = t:run(args or { "aggregates", "--last", "2d" }, { env = env })
      fake:clear_faults()
      return r
    end

    it("1 and one line when the C core cannot be loaded (not built for this interpreter)", function()
      -- a checkout without build/: the script finds lua/ next to it, and no usage.core anywhere
      local dir = nginx.temp_dir("usage-nocore")
      finally(function() nginx.remove_dir(dir) end)
      assert(nginx.run("mkdir -p " .. nginx.sh_quote(dir .. "/bin") .. " && cp bin/genesys-usage " ..
                       nginx.sh_quote(dir .. "/bin/") .. " && ln -s " .. nginx.sh_quote(support.REPO .. "/lua") .. " " ..
                       nginx.sh_quote(dir .. "/lua")))
      local r = t:run({ "aggregates", "--last", "2d" }, { script = dir .. "/bin/genesys-usage", cwd = dir })
      check(r.code == 1, r, "exit 1")
      check(support.one_line(r.err), r, "one line")
      check(r.err:find("^genesys%-usage: cannot load the usage library %(its C core usage%.core is built by `make build`%)"),
            r, "the message")
      check(support.no_trace(r), r, "no traceback")
    end)

    it("75 for a passing failure: 429 and 5xx after the retries, timeouts, the network, a poll timeout", function()
      local long = { retry_after = 100000, count = -1 } -- past max_retry_after: no retry
      for _, status in ipairs { 429, 500, 502, 503, 504, 408 } do
        local r = run_with_fault({ fault = "status", status = status, retry_after = long.retry_after, count = -1,
                                   match = { method = "POST", path = "/aggregates/query/jobs" } })
        check(r.code == 75, r, "HTTP " .. status)
        check(r.err:find("HTTP " .. status, 1, true), r)
      end
      local slow = run_with_fault({ fault = "slow", delay = 5, count = -1, match = { method = "POST" } },
                                  { "aggregates", "--last", "2d", "--timeout", "1" })
      check(slow.code == 75, slow, "a timeout")
      local closed = t:run { "query", "--last", "1d", "--base-url", "http://127.0.0.1:1" }
      check(closed.code == 75, closed, "no connection")
      fake:config { lifecycle = { polls = 1000000 } }
      local pt = t:run { "aggregates", "--last", "2d", "--poll-timeout", "0.3" }
      fake:config { lifecycle = { polls = 0 } }
      check(pt.code == 75 and pt.err:find("poll_timeout", 1, true), pt, "a poll timeout")
    end)

    it("77 for credentials and permissions: 401, 403, a refused login", function()
      local bad = t:run({ "aggregates", "--last", "2d" }, { env = { GENESYSCLOUD_OAUTHCLIENT_SECRET = "wrong-secret" } })
      check(bad.code == 77, bad, "a refused login")
      local perm = t:run({ "aggregates", "--last", "2d" },
                         { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" } })
      check(perm.code == 77 and perm.err:find("HTTP 403", 1, true), perm, "403")
      local tok = t:run({ "aggregates", "--last", "2d" }, { env = { GENESYSCLOUD_ACCESS_TOKEN = "not-a-token" } })
      check(tok.code == 77 and tok.err:find("HTTP 401", 1, true), tok, "401")
    end)

    it("1 for anything else, 2 for a usage error", function()
      local failed = run_with_fault { fault = "job_failed", match = { path = "aggregates" } }
      check(failed.code == 1, failed, "a failed job")
      local big = run_with_fault { fault = "status", status = 500, code = "max.response.size.reached", count = -1,
                                   retry_after = 100000, match = { method = "POST" } }
      check(big.code == 1, big, "results too big: waiting does not help")
      local usage_error = t:run { "aggregates", "--last", "2h" }
      check(usage_error.code == 2, usage_error)
    end)

    it("maps library errors by one table", function()
      local cases = {
        { { code = "timeout" }, 75 }, { { code = "connect" }, 75 }, { { code = "dns" }, 75 },
        { { code = "connection" }, 75 }, { { code = "poll_timeout" }, 75 }, { { status = 429 }, 75 },
        { { status = 503 }, 75 }, { { status = 400, code = "invalid_request", message = "Rate limit exceeded" }, 75 },
        { { status = 401 }, 77 }, { { status = 403 }, 77 }, { { status = 400, code = "invalid_client" }, 77 },
        { { status = 400, code = "invalid_grant" }, 77 },
        { { code = "tls" }, 1 }, { { code = "bad_response" }, 1 }, { { code = "query_failed", status = 200 }, 1 },
        { { status = 400, code = "query.too.long" }, 1 }, { { status = 500, code = "max.response.size.reached" }, 1 },
        { { code = "inexact" }, 1 },
      }
      for _, c in ipairs(cases) do
        assert.equal(c[2], failure.status_of(c[1]), json.encode(c[1]))
      end
    end)

    it("are documented in every --help and in docs/cli.md", function()
      local doc = read_file("docs/cli.md")
      for _, cmd in ipairs(commands) do
        local r = ok(t:run { cmd.name, "--help" })
        for _, word in ipairs { "75", "77", "2 usage error", "0 ok" } do
          check(r.out:find(word, 1, true), r, cmd.name .. " --help lacks " .. word)
        end
      end
      for _, word in ipairs { "EX_TEMPFAIL", "EX_NOPERM", "| 75 |", "| 77 |" } do
        assert.truthy(doc:find(word, 1, true), "docs/cli.md lacks " .. word)
      end
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("report: which client hit which endpoint", function()
    local days = iv.days(7)

    -- the fake's raw records summed per client x endpoint pair
    local function raw_pairs()
      local out = {}
      for _, rec in ipairs(fake:data(days.first, days.last)) do
        local k = rec.clientId .. "|" .. rec.httpMethod .. "|" .. rec.templateUri
        local p = out[k] or { requests = 0, status429 = 0, status500 = 0 }
        for _, f in ipairs { "requests", "status429", "status500" } do p[f] = p[f] + rec[f] end
        out[k] = p
      end
      return out
    end

    for _, case in ipairs { { "requests" }, { "429" }, { "429", "429" }, { "5xx", "5xx" }, { "requests", "429" } } do
      local rank, only = case[1], case[2]
      it("ranks the pairs by " .. rank .. (only and (", only those with " .. only) or "") .. " as the raw records do",
         function()
        local key = ({ requests = "requests", ["429"] = "status429", ["5xx"] = "status500" })[rank]
        local only_key = only and ({ ["429"] = "status429", ["5xx"] = "status500" })[only]
        local args = { "report", "--last", "7d", "--top", "8", "--rank-by", rank, "--format", "json" }
        if only then args[#args + 1] = "--only"; args[#args + 1] = only end
        local r = ok(t:run(args))
        local v = json.decode(r.out)
        local raw = raw_pairs()
        local values = {}
        for _, p in pairs(raw) do
          if not only_key or p[only_key] > 0 then values[#values + 1] = p[key] end
        end
        table.sort(values, function(a, b) return a > b end)
        check(#v.pairs == math.min(8, #values), r, #v.pairs .. " pairs listed, " .. #values .. " candidates")
        for i, p in ipairs(v.pairs) do
          local want = raw[p.oauthClientId .. "|" .. p.httpMethod .. "|" .. p.templateUri]
          check(want, r, "a pair the fake never served")
          check(want.requests == p.requests and want.status429 == p.status429 and want.status500 == p.status500, r,
                "pair " .. i .. " figures")
          check(p[key] == values[i], r, "pair " .. i .. " is not the " .. i .. "th by " .. rank)
          if only_key then check(p[only_key] > 0, r, "a pair without " .. only) end
          check(p.rank == i, r)
        end
        if only_key then
          for _, c in ipairs(v.clients) do check(c[only_key] > 0, r, "a client without " .. only) end
          for _, e in ipairs(v.endpoints) do check(e[only_key] > 0, r, "an endpoint without " .. only) end
        end
        check(v.only == only or (only == nil and type(v.only) ~= "string"), r, "only")
      end)
    end

    it("is in every format: table, csv, ndjson, html, svg", function()
      local j = json.decode(ok(t:run { "report", "--last", "7d", "--top", "3", "--format", "json" }).out)
      local first = j.pairs[1]
      check(first, { args = {}, err = "", out = "" }, "no pairs")
      local tbl = ok(t:run { "report", "--last", "7d", "--top", "3" })
      check(tbl.out:find("Top 3 client x endpoint pairs by requests", 1, true), tbl)
      check(tbl.out:find(first.templateUri, 1, true), tbl)
      local csv = ok(t:run { "report", "--last", "7d", "--top", "3", "--format", "csv" })
      local n = 0
      for _, l in ipairs(lines_of(csv.out)) do
        if l:find("^pair,") then n = n + 1 end
      end
      check(n == 3, csv, n .. " pair lines")
      local nd = ok(t:run { "report", "--last", "7d", "--top", "3", "--format", "ndjson" })
      local m = 0
      for _, l in ipairs(lines_of(nd.out)) do
        if json.decode(l).section == "pair" then m = m + 1 end
      end
      check(m == 3, nd, m .. " pair records")
      local html = ok(t:run { "report", "--last", "7d", "--top", "3", "--format", "html" })
      local tb = html.out:match('<table id="pairs">.-<tbody>(.-)</tbody>')
      check(tb and select(2, tb:gsub("<tr>", "")) == 3, html, "the HTML pairs table")
      local svg = ok(t:run { "report", "--last", "7d", "--top", "3", "--format", "svg" })
      local g = svg.out:match('<g class="pairs".-</g>')
      check(g and g:find("Top client x endpoint pairs by requests", 1, true), svg, "the SVG pairs")
      check(select(2, g:gsub("<text", "")) == 4, svg, "3 pairs and a title")
      local only = ok(t:run { "report", "--last", "7d", "--only", "5xx", "--rank-by", "5xx" })
      check(only.out:find("client x endpoint pairs with 5xx responses, by 5xx responses", 1, true), only)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("--profile", function()
    local GOOD = table.concat({
      "[default]", "  client_credentials = 'demo-client'", "  client_secret = 'demo-secret'",
      "[acme]", "  client_credentials = 'search-viewer'", "  client_secret = 'search-viewer-secret'",
      "  environment = 'mypurecloud.jp'",
      "[viewer]", "  client_credentials = 'org-viewer'", "  client_secret = 'org-viewer-secret'",
    }, "\n") .. "\n"

    it("wins over the GENESYSCLOUD_* variables when given; the variables win over the default profile", function()
      os.execute("mkdir -p " .. nginx.sh_quote(t:path(".gc")))
      nginx.write_file(t:path(".gc/config.toml"), GOOD)
      local env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret",
                    GENESYSCLOUD_REGION = "eu-west-1" }
      -- a loop over profiles queries each profile's organization, not the variables' three times
      for _, case in ipairs { { "acme", "search-viewer", "search" }, { "viewer", "org-viewer", "aggregates" } } do
        fake:clear_log()
        local r = t:run({ case[3], "--last", "2d", "--profile", case[1], "--format", "csv" }, { env = env })
        check(r.code == 0, r, "profile " .. case[1])
        local d = t:run({ "aggregates", "--last", "2d", "--profile", case[1], "--dry-run" },
                        { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_REGION = "eu-west-1",
                                  GENESYS_USAGE_BASE_URL = false } })
        check(d.out:find("OAuth client " .. case[2] .. " (profile " .. case[1], 1, true), d)
        check(d.out:find("not read (an explicit --profile wins over them): GENESYSCLOUD_OAUTHCLIENT_ID", 1, true), d)
        if case[1] == "acme" then check(d.out:find("# API: https://api.mypurecloud.jp", 1, true), d) end
      end
      -- without --profile, the variables override the default profile, as in gc
      local r = t:run({ "aggregates", "--last", "2d" }, { env = env })
      check(r.code == 77, r, "the variables' no-perms client was not used")
      os.remove(t:path(".gc/config.toml"))
    end)

    it("is explained in docs/cli.md, with how it differs from gc", function()
      local doc = read_file("docs/cli.md")
      assert.truthy(doc:find("an explicit `--profile NAME` wins over the variables", 1, true))
      assert.truthy(doc:find("gc", 1, true) and doc:find("unlike `gc`", 1, true))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("help and README", function()
    it("never wraps an example inside a command line", function()
      for _, cmd in ipairs(commands) do
        local r = ok(t:run { cmd.name, "--help" })
        local ex = r.out:match("\nExamples:\n(.-)\n\n")
        check(ex, r, "no examples")
        local joined, prev = {}, nil
        for line in (ex .. "\n"):gmatch("([^\n]*)\n") do
          check(#line <= 100, r, "a line over 100 columns: " .. line)
          if prev and prev:find(" \\$") then
            check(line:find("^      %S"), r, "a continuation is not indented: " .. line)
            joined[#joined] = joined[#joined]:sub(1, -3) .. " " .. line:gsub("^%s+", "")
          else
            check(line:find("^  genesys%-usage " .. cmd.name:gsub("%-", "%%-") .. " "), r, "a wrapped example: " .. line)
            joined[#joined + 1] = line
          end
          prev = line
        end
        -- each example, its lines joined again, is a command line the parser takes (a cut inside a word
        -- or a quoted text would not be)
        check(#joined >= 2, r, "fewer than 2 examples")
        for _, line in ipairs(joined) do
          local argv = {}
          for w in line:gsub("^%s+", ""):gsub("'([^']*)'", function(q) return (q:gsub(" ", "\1")) end):gmatch("%S+") do
            argv[#argv + 1] = (w:gsub("\1", " "))
          end
          check(table.remove(argv, 1) == "genesys-usage", r, line)
          local good, why = parser.new(commands):parse(argv)
          check(good, r, "an example the parser refuses: " .. line .. ": " .. tostring(why))
        end
      end
    end)

    it("the README's luarocks section shows luarocks path for a private tree and explains the warning", function()
      local readme = read_file("README.md")
      local section = readme:match("\n## Installing\n(.-)\n## ")
      assert.truthy(section:find("luarocks --lua-version=5.4 path --tree", 1, true))
      assert.truthy(section:find("Missing dependencies for genesys-usage", 1, true))
      assert.truthy(section:find("--deps-mode=none", 1, true))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("the days on the command line", function()
    local FIRST = "2026-12-01 10:00:00" -- the commands' clock on the 1st of a month

    it("--this-month on the 1st: exit 0, an empty month-to-date, a note; nothing sent", function()
      local runs = {
        { { "aggregates", "--this-month" }, "table" }, { { "aggregates", "--this-month", "-f", "csv" }, "csv" },
        { { "aggregates", "--this-month", "-f", "json" }, "json" }, { { "query", "--this-month", "-f", "ndjson" }, "ndjson" },
        { { "client-aggregates", HEAVY, "--this-month" }, "table" }, { { "search", "--this-month", "-f", "json" }, "json" },
        { { "summary", HEAVY, "--this-month", "-f", "json" }, "json" }, { { "report", "--this-month" }, "table" },
        { { "report", "--this-month", "-f", "json" }, "json" }, { { "report", "--this-month", "-f", "svg" }, "svg" },
        { { "aggregates", "--month", "2026-12", "-f", "json" }, "json" },
      }
      for _, case in ipairs(runs) do
        fake:clear_log()
        local r = t:run(case[1], { faketime = FIRST })
        check(r.code == 0, r)
        check(r.err == "", r, "not silent")
        check(#fake:log() == 0, r, "something was sent")
        if case[2] == "json" then
          local v = json.decode(r.out)
          check(v.days.count == 0 and v.days.first == "2026-12-01", r, "the days")
          check(#(v.rows or v.clients) == 0, r)
        elseif case[2] == "table" then
          check(r.out:find("December 2026 to date, no complete day yet (UTC", 1, true), r)
        elseif case[2] == "csv" then
          check(r.out:find("^date,"), r)
          check(#lines_of(r.out) == 1, r)
        elseif case[2] == "svg" then
          check(r.out:find("</svg>", 1, true) and not r.out:find("nan", 1, true), r)
        end
      end
      local v = t:run({ "aggregates", "--this-month", "--verbose" }, { faketime = FIRST })
      check(v.code == 0 and v.err:find("today is the 1st", 1, true), v, "no note")
      local d = t:run({ "aggregates", "--this-month", "--dry-run" }, { faketime = FIRST })
      check(d.code == 0 and d.out:find("nothing would be sent", 1, true), d)
    end)

    it("--last 365d: refused naming the first day an aggregates job can use (the strict reading)", function()
      local r = t:run({ "aggregates", "--last", "365d" }, { faketime = FIRST })
      check(r.code == 2, r)
      check(r.err:find("the first day it can use is 2025-12-02 (--from 2025-12-02, or --last 364d)", 1, true), r)
      local d = t:run({ "aggregates", "--last", "364d", "--dry-run" }, { faketime = FIRST })
      check(d.code == 0 and d.out:find('"interval":"2025-12-02T00:00:00Z/', 1, true), d)
    end)

    it("warns when the old generation is asked for days past the one-year window, and asks", function()
      local from, to = H.day(-400), H.day(-360)
      fake:clear_log()
      local r = ok(t:run { "query", "--from", from, "--to", to, "--format", "csv" })
      check(r.err:find("more than a year ago: how far back this (old-generation) query serves data is not documented",
                       1, true), r)
      check(#H.requests(fake, "^/api/v2/usage/query$", "POST") == 1, r, "not asked")
      local recent = ok(t:run { "query", "--last", "3d", "--format", "csv" })
      check(recent.err == "", recent)
    end)

    it("summary --days N: the period printed is the one of the rows' dates", function()
      -- the fake's ?days=N ends yesterday here (the other reading): the days must come from the rows
      for _, today in ipairs { H.day(-1), H.day(0) } do
        fake:config { today = today }
        local r = ok(t:run { "summary", HEAVY, "--days", "3", "--format", "json" })
        local v = json.decode(r.out)
        local first, last
        for _, row in ipairs(v.rows) do
          first = (not first or row.date < first) and row.date or first
          last = (not last or row.date > last) and row.date or last
        end
        check(first and v.days.first == first and v.days.last == last, r, "the days are not the rows'")
        local tbl = ok(t:run { "summary", HEAVY, "--days", "3" })
        local label = iv.label(iv.parse_date(first), iv.parse_date(last))
        check(tbl.out:find("summary, the days of the rows for ?days=3: " .. label .. " (UTC", 1, true) == 1, tbl)
      end
      fake:config { today = false }
    end)

    it("--interval takes ISO 8601 as users write it", function()
      local a, b = H.day(-6), H.day(-4)
      for _, text in ipairs { a .. "T09:00:00+01/" .. b .. "T11:00:00+0100", a .. "t08:00:00z/" .. b .. "T10:00+01:00" } do
        fake:clear_log()
        ok(t:run { "aggregates", "--interval", text, "--format", "csv" })
        local posts = H.requests(fake, "/aggregates/query/jobs$", "POST")
        assert.equal(a .. "T00:00:00Z/" .. b .. "T23:59:59.999Z", json.decode(posts[1].body).interval)
      end
    end)
  end)
end)
