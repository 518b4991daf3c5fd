-- genesys-usage report --compare over the API, against a scripted hostile server: the two periods' jobs
-- are submitted together (the server answers the first submit only once the second has come), and when
-- one period's job fails, never finishes or hands out a bad page, the run fails with that period and its
-- days named, the documented exit status, nothing on stdout, no output file, and it ends. (The fake
-- cloud's side, the same bytes as one period after the other and the progress line:
-- spec/cli_report_history_spec.lua.)

local support = require "support.cli"
local hostile = require "support.hostile"
local nginx = require "support.nginx"
local interval = require "usage.base.interval"

local read_file = nginx.read_file

---------------------------------------------------------------------------------------------------
-- a hostile server: each period's job does what the spec says

local TOKEN = "tok-" .. string.rep("Cmp2", 20)

-- the script: a job whose interval starts on `previous` is the previous period's; modes[period]: "ok"
-- (one row on the period's first day), "failed", "running" (never finishes), "bad_page" (entities not an
-- array). The first submit is answered only once the second has come: a run that waits for the first job
-- before submitting the other gets, 5 s later, a 400 that says so
local function two_periods(previous, modes)
  return hostile.with_login(TOKEN, string.format([[
local PREVIOUS, MODES = %q, { this = %q, previous = %q }
return function(req, state)
  state.jobs = state.jobs or {}
  if req.method == "POST" then
    local start = (req.body or ""):match('"interval":"(%%d%%d%%d%%d%%-%%d%%d%%-%%d%%d)')
    state.n = (state.n or 0) + 1
    local id = "job-" .. state.n
    if state.n == 1 then
      local waited = 0
      while state.n < 2 and waited < 5 do
        ngx.sleep(0.02)
        waited = waited + 0.02
      end
      if state.n < 2 then
        return 400, nil, '{"message":"the other period was not submitted with this one","code":"alone","status":400}'
      end
    end
    state.jobs[id] = { start = start, period = start == PREVIOUS and "previous" or "this" }
    return 200, nil, '{"id":"' .. id .. '","selfUri":"/api/v2/usage/aggregates/query/jobs/' .. id .. '"}'
  end
  local job = state.jobs[req.path:match("/jobs/([^/?]+)") or ""]
  if not job then return 404, nil, '{"message":"no such job","code":"not.found","status":404}' end
  local mode = MODES[job.period]
  if mode == "failed" then
    return 200, nil, '{"queryStatus":"Failed","errorBody":{"message":"the job broke","code":"job.broke","status":500}}'
  elseif mode == "running" then
    return 200, nil, '{"queryStatus":"Running"}'
  elseif mode == "bad_page" then
    return 200, nil, '{"queryStatus":"Succeeded","entities":"not rows"}'
  end
  return 200, nil, '{"queryStatus":"Succeeded","entities":[{"date":"' .. job.start .. '","oauthClient":' ..
    '{"id":"c-1","name":"One"},"templateUri":"api/v2/things","httpMethod":"GET","requestCount":5,' ..
    '"status200":5,"status300":0,"status400":0,"status429":0,"status500":0}]}'
end]], previous, modes.this, modes.previous))
end

describe("genesys-usage report --compare: one period fails", function()
  local srv, t
  setup(function()
    srv = hostile.start()
    t = support.new { base_url = srv.base_url, client_id = "cmp-client", client_secret = "cmp-Secret-9" }
  end)
  teardown(function()
    if srv then srv:stop() end
    if t then t:cleanup() end
  end)

  local days = interval.days(7)
  local before = interval.previous_period(days)

  -- run(modes) -> r: the run, ended within a generous bound (a run still going is stopped and fails)
  local function run(modes, extra, script)
    srv:script(two_periods(before.first, modes))
    local out = t:path("cmp.json")
    os.remove(out)
    local args = { "report", "--last", "7d", "--compare", "previous-period", "--output", out, "--verbose",
                   "--poll-timeout", "1" }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    local p = t:spawn(args, { script = script })
    local code = p:wait(60)
    local r = { args = args, code = code, out = p:stdout(), err = p:stderr() }
    if not code then
      p:stop()
      error("still running after 60 s\n" .. support.show(r) .. "\n" .. srv:diagnostics(), 2)
    end
    r.file = read_file(out)
    return r
  end

  local function check(cond, r, what)
    if not cond then error((what or "assertion failed") .. "\n" .. support.show(r) .. "\n" .. srv:diagnostics(), 2) end
  end

  -- the failure line: one line naming the period and its days, the error, the jobs; nothing written
  local function failed(r, status, words, span, code)
    check(r.code == status, r, "exit status " .. tostring(r.code) .. ", expected " .. status)
    check(r.out == "" and r.file == nil, r, "a report was written")
    check(#support.temp_files(t.dir) == 0, r, "partial files left")
    check(support.no_trace(r), r, "a Lua error")
    local line = r.err:match("genesys%-usage: error: [^\n]*")
    check(line, r, "no error line")
    check(line:find(code, 1, true), r, "the error is not " .. code)
    check(line:find(words .. " (" .. span.label .. "): ", 1, true), r, "the period is not named")
    -- both jobs on the line, each with its period
    check(line:find("(this period)", 1, true) and line:find("(the previous period)", 1, true), r, "the jobs")
    return line
  end

  it("reports both periods when both jobs answer: the second job is submitted before the first answers", function()
    local r = run { this = "ok", previous = "ok" }
    check(r.code == 0 and r.file, r)
    local v = require("usage.base.json").decode(r.file)
    check(v.totals.current.requests == 5 and v.totals.previous.requests == 5, r, "the totals")
    -- the check can fail: one period after the other, the first submit waits alone, then is refused
    r = run({ this = "ok", previous = "ok" }, nil, support.sequential(t))
    check(r.code == 1 and r.err:find("the other period was not submitted with this one", 1, true), r)
  end)

  it("the previous period's job fails: exit 1, the previous period named", function()
    local line = failed(run { this = "ok", previous = "failed" }, 1, "the previous period", before, "query_failed")
    assert.is_nil(line:find("failed too", 1, true))
  end)

  it("the previous period's job never finishes: poll_timeout, exit 75, the previous period named", function()
    failed(run { this = "ok", previous = "running" }, 75, "the previous period", before, "poll_timeout")
  end)

  it("the previous period's page is not rows: bad_response, exit 1, the previous period named", function()
    failed(run { this = "ok", previous = "bad_page" }, 1, "the previous period", before, "bad_response")
  end)

  it("this period's job fails while the other runs on: this period named, once the other ends", function()
    failed(run { this = "failed", previous = "ok" }, 1, "this period", days, "query_failed")
    local line = failed(run { this = "failed", previous = "running" }, 1, "this period", days, "query_failed")
    assert.truthy(line:find("(the previous period failed too)", 1, true), line)
  end)
end)
