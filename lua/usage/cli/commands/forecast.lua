-- genesys-usage forecast: will this month fit the fair-use allowance, and who is driving it. For each org of
-- the run (one, or several: --profile a --profile b, --all-profiles), one aggregates job by day and OAuth
-- client over the days the method reads (usage.forecast.fetch: the 1st of last month through yesterday),
-- then usage.forecast.compute with the org's allowance (--licenses, --allowance: usage.cli.allowance), and
-- the answer as a table for people, JSON (the method and its inputs), or a monitoring plugin's answer
-- (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; any failure UNKNOWN: usage.cli.monitor). With --store
-- (usage.cli.store) the days come from the history store instead (usage.history's forecast_input): nothing
-- is sent, and the days the store lacks are estimated and said, never counted as 0. The method, the edge
-- cases (the 1st of a month, days missing, a young org) and the renderings are usage.forecast's.
local usage = require "usage"
local history = require "usage.history"
local flows = require "usage.flows"
local forecast = require "usage.forecast"
local fdays = require "usage.forecast.days"
local json = require "usage.base.json"
local interval = require "usage.base.interval"
local thousands = require("usage.base.text").thousands
local params = require "usage.api.params"
local help = require "usage.cli.help"
local output = require "usage.cli.output"
local allowance = require "usage.cli.allowance"
local store_opt = require "usage.cli.store"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"
local dryrun = require "usage.cli.dryrun"
local NAME = require("usage.cli.program").NAME

local M = { name = "forecast" }

local format, concat = string.format, table.concat

local FORMATS = { "text", "json", "plugin" }
local DEFAULT_ORG = "default"
local STATUS = { [0] = "OK", [1] = "WARNING", [2] = "CRITICAL", [3] = "UNKNOWN" }
local DEFAULT = forecast.thresholds() -- (80 and 100)

-- a threshold: a percentage of the allowance (usage.forecast.thresholds reads it: ranges are refused)
local function percent(flag)
  return function(v)
    local t, why = forecast.thresholds(flag == "warning" and v or nil, flag == "critical" and v or nil)
    if not t then return nil, why end
    return t[flag]
  end
end

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name,
    summary = "Will this month fit the fair-use allowance: month to date, projection, overage, who drives it.",
    about = "The fair-use forecast of the month: the month to date (the whole UTC days of this month so far; " ..
            "today is never counted, and is named), the projection to the month's end by the weekday run rate " ..
            "of the last 28 whole days with its band, the expected overage, the day the allowance runs out, and " ..
            "the OAuth clients driving it (month to date, projection, share of the allowance, change against " ..
            "the same days of last month; a new or suddenly grown client is called out by name). The allowance " ..
            "comes from --licenses (the Resource Center's figures per seat) or --allowance (the contract's " ..
            "figure); docs/forecast.md describes the method.",
    more = "One aggregates job per org by day and OAuth client, over the 1st of last month through yesterday. " ..
           "--format plugin answers as a monitoring plugin (Nagios, Icinga, Zabbix, Sensu): one status line " ..
           "with performance data, then the detail; exit status 0 OK, 1 WARNING (the projection above --warning " ..
           "% of the allowance), 2 CRITICAL (above --critical %), 3 UNKNOWN (no projection, or any failure: a " ..
           "usage error, the network, the credentials; one UNKNOWN line on stdout). In the text and JSON " ..
           "formats the thresholds are reported but do not change the exit status: 0, or the statuses of every " ..
           "command (2 usage, 75 try again later, 77 credentials or permission, 1 anything else). Several orgs " ..
           "(--profile a --profile b, --all-profiles): one forecast each (JSON: an array); a plugin checks one " ..
           "org. --store reads the days from a history store (genesys-usage sync fills it) for the org of the " ..
           "run (--org, the profile's name, else \"default\": the label the sync gave it) and sends nothing; " ..
           "the days it lacks are estimated like the rest of the month, and said.",
    examples = {
      "--licenses cx3=1000",
      "--licenses cx3=1000,cx1=50 --format json --output forecast.json",
      "--allowance 140000000 --format plugin --warning 80 --critical 100",
      "--all-profiles --licenses acme=cx3=1000 --allowance globex=75000000",
      "--store ~/usage.sqlite3 --org acme --licenses cx3=1000",
    },
  })
  cmd:group("Forecast",
    cmd:option("-f --format", "text (default), json (the method, its inputs, every figure) or plugin (a " ..
                              "monitoring plugin's answer and exit status)")
       :argname("FORMAT"):convert(params.text.choice("format", FORMATS)):overwrite(false),
    cmd:option("--warning", format("WARNING when the projection for the month is above this percentage of the " ..
                                   "allowance (default %g; the exit status changes only with --format plugin)",
                                   DEFAULT.warning))
       :argname("PCT"):convert(percent("warning")):overwrite(false),
    cmd:option("--critical", format("CRITICAL above this percentage (default %g; the same)",
                                    DEFAULT.critical))
       :argname("PCT"):convert(percent("critical")):overwrite(false),
    cmd:option("--clients", "how many clients the table lists, the called-out ones always (default 10; plugin: 5)")
       :argname("N"):convert(params.text.number("clients", { min = 0, max = 10000 }, true)):overwrite(false),
    cmd:option("--org", "the org's label in the output (one org); default: the --profile name, else \"default\"")
       :argname("LABEL"):convert(function(v)
         if v == "" or v:find("%c") then return nil, "--org: expected a label (no control characters)" end
         return v
       end):overwrite(false))
  allowance.add(cmd)
  store_opt.add(cmd)
  output.add(cmd)
  connection.add(cmd, { orgs = true })
  term.add(cmd)
  return cmd
end

-- the call of every org: the forecast's one job (usage.forecast.job_body over usage.forecast.span)
local function forecast_call(now)
  local span = forecast.span(now)
  local ok, err = days_mod.check_job_start(span, now)
  if not ok then failure.usage(err, M.name) end
  return { flow = flows.by_name.aggregates, params = {}, name = M.name, opts = {}, body = forecast.job_body(span),
           days = span,
           days_text = "the forecast reads " .. days_mod.describe(span) .. ": this month's whole days so far, the " ..
                       "last 28 days for the run rate, last month to compare; today is never counted" }
end

local function labels(orgs)
  local out = {}
  for i, o in ipairs(orgs) do out[i] = o.label end
  return out
end

local function dry_run(orgs, c)
  local out = {}
  for _, o in ipairs(orgs) do
    out[#out + 1] = "# org " .. o.label .. (o.profile and (" (profile " .. o.profile .. ")") or "") ..
                    "; allowance " .. o.allowance.label .. "\n" .. dryrun.text(M.name, o.creds, { c })
  end
  return concat(out, "\n")
end

-- from_api(args, s, orgs, now) -> the result of every org, their jobs at once; a failed org fails the run
local function from_api(args, s, orgs, now)
  local clients = connection.clients(args, orgs, s.term)
  local track = connection.tracker(s, M.name, orgs)
  local fns = {}
  for i, o in ipairs(orgs) do
    fns[i] = function()
      return forecast.from_api(clients[i], { now = now, allowance = o.allowance, org = o.label,
                                             on_progress = track(o.label) })
    end
  end
  local results, errs = usage.gather(fns)
  s.term:done()
  failure.check()
  for i, o in ipairs(orgs) do
    if not results[i] then
      failure.of_org(errs[i] or "the forecast ended without an answer", o.label, M.name, #orgs > 1)
    end
  end
  for _, c in ipairs(clients) do c:close() end
  return results
end

-- from_store(args, s, orgs, now) -> the result of every org from the history store (nothing is sent); the
-- days the store lacks are said on stderr (the outputs say them too; a plugin writes nothing on stderr)
local function from_store(args, s, orgs, now)
  local st = store_opt.open(args, M.name, { readonly = true, term = s.term })
  local src = history.from_store(st)
  local results = {}
  for i, o in ipairs(orgs) do
    local input, err = src:forecast_input { org = o.label, now = now }
    if not input then
      st:close()
      store_opt.fail(err, M.name, #orgs > 1 and ("org " .. o.label) or nil)
    end
    local r, why = forecast.compute { now = now, org = o.label, allowance = o.allowance, rows = input.rows,
                                      known = input.known, source = input.source }
    if not r then
      st:close()
      failure.runtime(format("%s%s", #orgs > 1 and ("org " .. o.label .. ": ") or "", why))
    end
    local missing = {}
    for j, d in ipairs(input.source.missing or {}) do missing[j] = interval.parse_date(d) end
    if #missing > 0 and args.format ~= "plugin" then
      s.term:warn(format("%sthe store lacks %s of the %d the forecast reads: they are estimated, never counted " ..
                         "as 0 (`%s sync` fills them)", #orgs > 1 and ("org " .. o.label .. ": ") or "",
                         fdays.set(missing).label, input.span.count, NAME))
    end
    results[i] = r
  end
  st:close()
  failure.check()
  return results
end

-- the thresholds' state of a result, in words (the text format's last line; JSON's alert)
local function alert(r, t)
  if not r.projection then return 3, "UNKNOWN: no projection" end
  local p, a = r.projection.requests, r.allowance.requests -- (as the plugin compares: no rounding)
  local status = (p * 100 > t.critical * a) and 2 or (p * 100 > t.warning * a) and 1 or 0
  local words = { [0] = format("OK: the projection is not above %g%% of the allowance (WARNING above %g%%, " ..
                               "CRITICAL above %g%%)", t.warning, t.warning, t.critical),
                  [1] = format("WARNING: the projection is above %g%% of the allowance (CRITICAL above %g%%)",
                               t.warning, t.critical),
                  [2] = format("CRITICAL: the projection is above %g%% of the allowance", t.critical) }
  return status, words[status]
end

function M.run(args, s)
  local fmt = args.format or "text"
  local orgs = connection.orgs(args, s.term, args.org)
  for _, o in ipairs(orgs) do o.label = o.label or DEFAULT_ORG end
  if fmt == "plugin" and #orgs > 1 then
    failure.usage("--format plugin checks one org (one service per org): give one --profile", M.name)
  end
  if not allowance.read(args, orgs) then
    failure.usage("the forecast needs the allowance: --licenses TIER=SEATS,... (e.g. cx3=1000) or --allowance N " ..
                  "(the contract's figure)", M.name)
  end
  local t, why = forecast.thresholds(args.warning, args.critical)
  if not t then failure.usage(why, M.name) end
  if t.warning > t.critical then
    failure.usage(format("--warning %g is above --critical %g: WARNING could never be reached", t.warning,
                         t.critical), M.name)
  end
  local now = s.now
  local c = forecast_call(now)
  if args.dry_run then
    if args.store then
      io.stdout:write(format("# %s %s --dry-run: nothing is read\n# days: %s\n# from the history store %s, org %s\n",
                             NAME, M.name, c.days_text, args.store, concat(labels(orgs), ", ")))
    else
      io.stdout:write(dry_run(orgs, c))
    end
    return
  end
  local out = output.open(args)
  local results
  if args.store then
    results = from_store(args, s, orgs, now)
  else
    connection.note(orgs[1].creds, s.term)
    results = from_api(args, s, orgs, now)
  end
  local status
  if fmt == "plugin" then
    local text
    text, status = forecast.plugin(results[1], { warning = t.warning, critical = t.critical, clients = args.clients })
    out.fh:write(text)
  elseif fmt == "json" then
    local docs = {}
    for i, r in ipairs(results) do
      local doc = forecast.document(r)
      local state, words = alert(r, t)
      doc.alert = { warning = t.warning, critical = t.critical, status = STATUS[state], text = words }
      docs[i] = doc
    end
    out.fh:write(json.encode(#docs == 1 and docs[1] or json.array(docs)), "\n")
  else
    local parts = {}
    for i, r in ipairs(results) do
      local state, words = alert(r, t)
      parts[i] = forecast.text(r, { clients = args.clients }) .. "\nThresholds: " .. words .. " (exit status 0; " ..
                 "--format plugin would exit " .. state .. ")\n"
    end
    out.fh:write(concat(parts, "\n"))
  end
  for _, r in ipairs(results) do
    s.term:note(format("%sforecast of %s: month to date %s over %s, projection %s, allowance %s",
                       #orgs > 1 and ("org " .. r.org .. ": ") or "", r.month.name,
                       thousands(r.month_to_date.requests), r.month_to_date.days.label,
                       r.projection and thousands(r.projection.requests) or "none (no history)",
                       thousands(r.allowance.requests)))
  end
  output.commit(out, s.term)
  return status
end

return M
