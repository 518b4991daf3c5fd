-- genesys-usage metrics: the Prometheus text exposition (usage.prometheus) of the usage per OAuth client
-- for the last complete UTC day and for the month to date, with the collector's figures and what the
-- client saw; every series carries an `org` label. Month to date is the 1st of yesterday's month through
-- yesterday, so on the 1st of a month it is still the whole previous month. One aggregates job by day
-- gives both periods (yesterday is its last day); with an allowance (--licenses, --allowance) the same job
-- reaches back to the 1st of last month and also feeds the fair-use forecast's gauges (usage.forecast).
-- Several orgs in one run (--profile a --profile b, --all-profiles): one client per org, their jobs run at
-- once (usage.prometheus.collect_orgs), one exposition. With --output FILE the file is replaced
-- atomically, as node_exporter's textfile collector needs; a failed run (any org) leaves it as it was.
-- This module only reads the flags and reports: the work is usage.prometheus's (collect_orgs, render_orgs).
local flows = require "usage.flows"
local errors = require "usage.base.errors"
local thousands = require("usage.base.text").thousands
local prometheus = require "usage.prometheus"
local forecast = require "usage.forecast"
local history = require "usage.history"
local core = require "usage.core"
local params = require "usage.api.params"
local help = require "usage.cli.help"
local output = require "usage.cli.output"
local allowance = require "usage.cli.allowance"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"
local dryrun = require "usage.cli.dryrun"
local store_opt = require "usage.cli.store"
local NAME = require("usage.cli.program").NAME

local M = { name = "metrics" }

local format, concat = string.format, table.concat

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name,
    summary = "Prometheus metrics of the usage per OAuth client (yesterday, month to date), per org.",
    about = "Prometheus metrics of the usage per OAuth client: the last complete UTC day and the month to date " ..
            "(the 1st of yesterday's month through yesterday: on the 1st of a month, the whole previous month), " ..
            "the collector's figures and the client's own (requests, retries, 429s, logins, rate-limit headers). " ..
            "Every series carries an org label: --org LABEL, else the profile's name, else \"default\". With an " ..
            "allowance (--licenses, --allowance) also the fair-use forecast's gauges: month to date, projection " ..
            "and band, allowance.",
    more = "Write them for node_exporter's textfile collector with --output (atomic). Several orgs in one run: " ..
           "--profile a --profile b, or --all-profiles (every profile of ~/.gc/config.toml), queried at once, " ..
           "one exposition. A failed run (any org) exits non-zero (75: try again later, 77: credentials or " ..
           "permission, 1: anything else) and leaves the file as it was: alert on the age of " ..
           "genesys_usage_collect_success_timestamp_seconds. --allowance ORG=N and --licenses ORG=TIER=SEATS " ..
           "give one org its allowance; without ORG= the value is for every org that has none of its own. With " ..
           "--store the figures are read from the history store (genesys-usage sync fills it) instead of a job: " ..
           "every org of the store, or --org LABEL; no credentials are needed, and the days the store lacks are " ..
           "said on stderr.",
    examples = {
      "--verbose",
      "--output /var/lib/prometheus/node-exporter/genesys_usage.prom --quiet",
      "--profile acme --licenses cx3=1000 --output /var/lib/prometheus/node-exporter/genesys_usage.prom --quiet",
      "--all-profiles --allowance acme=140000000 --allowance globex=75000000 --output usage.prom",
      "--store /var/lib/genesys-usage/usage.sqlite3 --allowance acme=140000000 --output usage.prom --quiet",
    },
  })
  cmd:group("Metrics",
    cmd:option("--max-clients", format("at most N OAuth-client series per period; the rest are summed as " ..
                                       "client_id=\"other\" (default %d)", prometheus.DEFAULT_MAX_CLIENTS))
       :argname("N"):convert(params.text.number("max-clients", { min = 1, max = 1e6 }, true)):overwrite(false),
    cmd:option("--org", "the org label of every series (one org); default: the --profile name, else \"default\"; " ..
                        "with --store: the org of the store to read (default: every org of the store)")
       :argname("LABEL"):convert(function(v)
         if v == "" or v:find("%c") then return nil, "--org: expected a label (no control characters)" end
         return v
       end):overwrite(false))
  allowance.add(cmd)
  output.add(cmd)
  store_opt.add(cmd)
  connection.add(cmd, { orgs = true })
  term.add(cmd)
  return cmd
end

-- the call of the run (every org's): one aggregates job by day over the plan's span (usage.prometheus.plan)
local function metrics_call(plan, now)
  local days = plan.span
  local ok, err = days_mod.check_job_start(days, now)
  if not ok then failure.usage(err, M.name) end
  local text = "last complete day " .. plan.day.label .. "; month to date " .. days_mod.describe(plan.month)
  if plan.forecast then
    text = text .. "; the forecast reads " .. days_mod.describe(plan.forecast) ..
           " (last month to compare, the last 28 days for the run rate; today is never counted)" ..
           (plan.span.first ~= plan.forecast.first and ("; one job over " .. days_mod.describe(plan.span)) or
            ", one job for both")
  end
  return { flow = flows.by_name.aggregates, params = {}, name = M.name, opts = {}, body = prometheus.job_body(plan),
           days = days, days_text = text }
end

-- --dry-run: the requests of each org (its credentials, its allowance), nothing sent
local function dry_run(orgs, c)
  local out = {}
  for _, o in ipairs(orgs) do
    local text = dryrun.text(M.name, o.creds, { c })
    local head = "# org " .. o.label .. (o.profile and (" (profile " .. o.profile .. ")") or "")
    if o.allowance then head = head .. "; allowance " .. o.allowance.label end
    out[#out + 1] = head .. "\n" .. text
  end
  return concat(out, "\n")
end

-- collect(args, s, orgs) -> the figures of every org (usage.prometheus.collect_orgs), one client each, their
-- jobs at once; a failed org fails the run
local function collect(args, s, orgs)
  local clients = {}
  for i, c in ipairs(connection.clients(args, orgs, s.term)) do
    local o = orgs[i]
    clients[i] = { org = o.label, client = c, allowance = o.allowance }
  end

  -- the progress line, and each job's id as a note, with the command that reads it again
  local track = connection.tracker(s, M.name, orgs)
  local list = prometheus.collect_orgs(clients, { now = s.now, on_progress = function(label) return track(label) end })
  s.term:done()
  failure.check()
  local failed, first
  for _, figures in ipairs(list) do
    if figures.err then
      failed = (failed or 0) + 1
      first = first or figures
    end
  end
  -- (no org is written when one fails: the file stays as it was)
  if first then failure.of_org(first.err, first.org, M.name, #orgs > 1, failed - 1) end
  return list, clients
end

-- the store's orgs of the run: --org, else every org of the store
local function store_orgs(args, st)
  local list, err = st:orgs()
  if not list then store_opt.fail(err, M.name) end
  local orgs, labels = {}, {}
  for _, o in ipairs(list) do
    labels[#labels + 1] = o.org
    if args.org == nil or args.org == o.org then orgs[#orgs + 1] = { label = o.org } end
  end
  if #orgs == 0 then
    failure.usage(args.org and format("--org %s: no such org in the store %s (orgs: %s)", args.org, st.where,
                                      labels[1] and concat(labels, ", ") or "none")
                  or format("the store %s holds no org yet: %s sync --store fills it", st.where, NAME), M.name)
  end
  return orgs
end

-- one org's figures from the store: the plan's periods (and the forecast with an allowance), and what the
-- store lacks of the plan's days
local function store_figures(src, plan, o, now)
  local started = core.now()
  local acc = prometheus.periods(plan)
  local info, err = src:each_page({ days = plan.span, org = o.label, by = "client" }, function(page)
    acc:add_rows(page)
  end)
  if not info then return nil, err end
  local exact, inexact = acc:exact()
  if not exact then return nil, errors.new { code = "inexact", message = inexact } end
  local periods = acc:result()
  local figures = { org = o.label, usage = { day = periods.day, month = periods.month } }
  if o.allowance then
    local input, ierr = src:forecast_input { org = o.label, now = now }
    if not input then return nil, ierr end
    local result, why = forecast.compute { now = now, org = o.label, allowance = o.allowance, rows = input.rows,
                                           known = input.known, source = input.source }
    if not result then return nil, errors.new { code = "forecast", message = why } end
    figures.forecast = result
  end
  figures.collector = { success_timestamp = core.time(), duration = core.now() - started, errors = 0 }
  local c = info.coverage and info.coverage[1]
  return figures, c and c.missing or {}
end

-- write(list, args, out): the exposition of every org's figures into the output; a total that cannot be
-- given exactly ends the run instead (a wrong total is never published)
local function write(list, args, out)
  local problems = {}
  for _, figures in ipairs(list) do
    figures.max_clients = args.max_clients
    figures.problems = problems
  end
  local text = prometheus.render_orgs(list)
  if problems[1] then failure.runtime(problems[1]) end
  out.fh:write(text)
end

-- metrics --store: the figures of the store's orgs, no job
local function run_store(args, s)
  if args.profile or args.all_profiles then
    failure.usage("--store reads the orgs of the store: leave out --profile and --all-profiles (--org LABEL " ..
                  "picks one org of the store)", M.name)
  end
  local now = math.floor(s.now)
  local st = store_opt.open(args, M.name, { readonly = true, term = s.term })
  local orgs = store_orgs(args, st)
  local plan, why = prometheus.plan { now = now, forecast = allowance.read(args, orgs) }
  if not plan then failure.usage(why, M.name) end
  if args.dry_run then
    io.stdout:write(format("# metrics: no request is sent: the figures of org%s %s are read from the store %s\n" ..
                           "# days: %s\n", #orgs > 1 and "s" or "", (function()
                             local l = {}
                             for i, o in ipairs(orgs) do l[i] = o.label end
                             return concat(l, ", ")
                           end)(), st.where, days_mod.describe(plan.span)))
    st:close()
    return
  end
  local out = output.open(args)
  local src = history.from_store(st)
  local list = {}
  for i, o in ipairs(orgs) do
    local figures, missing = store_figures(src, plan, o, now)
    if not figures then store_opt.fail(missing, M.name, #orgs > 1 and ("org " .. o.label) or nil) end
    if #missing > 0 then
      s.term:warn(format("org %s: the store %s lacks %d of the %d days %s: %s (not counted: sync it)", o.label,
                         st.where, #missing, plan.span.count, plan.span.label, history.dates_label(missing)))
    end
    list[i] = figures
  end
  st:close()
  write(list, args, out)
  s.term:note(format("read from the store %s: last complete day %s; month to date %s", st.where, plan.day.label,
                     days_mod.describe(plan.month)))
  output.commit(out, s.term)
end

function M.run(args, s)
  if args.store ~= nil then return run_store(args, s) end
  local orgs = connection.orgs(args, s.term, args.org)
  for _, o in ipairs(orgs) do o.label = o.label or prometheus.DEFAULT_ORG end
  local plan, why = prometheus.plan { now = s.now, forecast = allowance.read(args, orgs) }
  if not plan then failure.usage(why, M.name) end
  local c = metrics_call(plan, s.now)
  if args.dry_run then
    io.stdout:write(dry_run(orgs, c))
    return
  end
  connection.note(orgs[1].creds, s.term)
  local out = output.open(args)
  local list, clients = collect(args, s, orgs)
  write(list, args, out)
  for _, o in ipairs(clients) do o.client:close() end
  for _, figures in ipairs(list) do
    local f = figures.forecast
    if f then
      s.term:note(format("%sforecast of %s: month to date %s over %s, projection %s, allowance %s",
                         #orgs > 1 and ("org " .. figures.org .. ": ") or "", f.month.name,
                         thousands(f.month_to_date.requests), f.month_to_date.days.label,
                         f.projection and thousands(f.projection.requests) or "none (no history)",
                         thousands(f.allowance.requests)))
    end
  end
  output.commit(out, s.term)
end

return M
