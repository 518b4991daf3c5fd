-- genesys-usage report: who spends the API quota, who causes the 429s, and which client hits which
-- endpoint. One aggregates job over the days, by day, OAuth client and endpoint (templateUri + method):
-- its rows are folded as they arrive (usage.cli.report.aggregate over usage.base.rows) into the clients, the
-- endpoints and the client x endpoint pairs, ranked by requests, 429 or 5xx responses (--only keeps those
-- with 429s or 5xx), and written as a table, CSV, JSON, NDJSON, an SVG chart or an HTML page.
-- Over usage.history (the same job, one per org, run at once): several orgs in one run (--profile a
-- --profile b, --all-profiles: one consolidated report, every client and pair with its org), --by org (each
-- org's totals, days and top clients) and --compare previous-period | previous-year (each figure of both
-- periods and its change, usage.cli.report.compare; a period the API no longer serves is refused before any
-- job, with the way to a history store). With an allowance (--licenses, --allowance) the HTML page gains the
-- fair-use forecast of each org (usage.forecast: month to date, projection and band, allowance line).
-- With --store (usage.cli.store) the report reads the history store instead (usage.history.from_store): any
-- span, past the API's year, every org of the store (or those of --profile, --all-profiles, --org), in
-- milliseconds; the days the store lacks are said in every format.
local flows = require "usage.flows"
local interval = require "usage.base.interval"
local models = require "usage.api.models"
local params = require "usage.api.params"
local history = require "usage.history"
local forecast = require "usage.forecast"
local help = require "usage.cli.help"
local call = require "usage.cli.call"
local days = require "usage.cli.days"
local output = require "usage.cli.output"
local connection = require "usage.cli.connection"
local allowance = require "usage.cli.allowance"
local store_opt = require "usage.cli.store"
local term = require "usage.cli.term"
local run = require "usage.cli.run"
local dryrun = require "usage.cli.dryrun"
local sink = require "usage.cli.sink"
local failure = require "usage.cli.failure"
local outside = require "usage.cli.outside"
local aggregate = require "usage.cli.report.aggregate"
local rcompare = require "usage.cli.report.compare"
local rformats = require "usage.cli.report.formats"
local chart = require "usage.cli.report.chart"
local page = require "usage.cli.report.page"
local NAME = require("usage.cli.program").NAME

local M = { name = "report" }

local format, concat = string.format, table.concat

local FLOW = flows.by_name.aggregates
local FORMATS = { "table", "csv", "json", "ndjson", "html", "svg" }
-- the body fields the report sets itself (the one job below); the others (the filters) stay flags
local OWNS = { groupBy = true, granularity = true, metrics = true, sortBy = true }
-- the one job: the days and filters of the flags, by day, OAuth client (id and name) and endpoint
local GROUP_BY = { "OauthClientId", "OauthClientName", "TemplateUri", "HttpMethod" }
-- the org label of a run over one org without --org or --profile
local DEFAULT_ORG = "default"

local function org_label(v)
  if v == "" or #v > 200 or v:find("%c") then
    return nil, "--org: expected a label (at most 200 bytes, no control characters)"
  end
  return v
end

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name, flow = FLOW,
    summary = "Who spends the API quota and who causes the 429s: top OAuth clients, endpoints and client x " ..
              "endpoint pairs, a chart.",
    about = "Who spends the API quota and who causes the 429s: the top OAuth clients, endpoints " ..
            "(templateUri + method) and client x endpoint pairs (which client hit which endpoint) by requests, " ..
            "429 or 5xx responses, with counts and ratios, the status-class shares and the daily series; as a " ..
            "table, CSV, JSON, NDJSON, an SVG chart or an HTML page.",
    more = "With --store the report reads the history store (" .. NAME .. " sync fills it): any span, past " ..
           "the API's year, every org of the store unless --profile, --all-profiles or --org name some. " ..
           "--compare previous-period (as many days, just before) or previous-year (the same days a year " ..
           "earlier; 29 February against 28 February) gives every figure of both periods and its change; the " ..
           "Usage API serves the last year only. Several orgs in one run (--profile a --profile b, " ..
           "--all-profiles) make one consolidated report, every client with its org; --by org adds each " ..
           "org's totals and top clients. With --licenses or --allowance the HTML page also shows each org's " ..
           "fair-use forecast (month to date, projection and band, the allowance line).",
    examples = {
      "--last 30d",
      "--last 7d --rank-by 429 --top 5 --output who-gets-429.csv",
      "--last 7d --rank-by 429 --only 429",
      "--last-month --rank-by 5xx --chart 5xx --output report.html",
      "--last 30d --svg out/usage-report.svg",
      "--last-month --compare previous-period",
      "--all-profiles --by org --last 30d --output orgs.html",
      "--this-month --licenses cx3=1000 --output month.html",
      "--store usage.sqlite3 --month 2025-11 --compare previous-year",
    },
  })
  days.add(cmd)
  call.add_query(cmd, FLOW, { owns = OWNS })
  cmd:group("Report",
    cmd:option("--top", "how many clients and endpoints to list (default 10)"):argname("N")
       :convert(params.text.number("top", { min = 1, max = 1000 }, true)):overwrite(false),
    cmd:option("--rank-by", "order by requests, 429 (rate-limited responses) or 5xx (default requests)")
       :argname("WHAT"):convert(params.text.choice("rank-by", aggregate.RANK_NAMES)):overwrite(false),
    cmd:option("--only", "list only the clients, endpoints and pairs with at least one 429 (or 5xx) response; " ..
                         "the totals stay those of all the rows")
       :argname("WHAT"):convert(params.text.choice("only", aggregate.ONLY_NAMES)):overwrite(false),
    cmd:option("--chart", "what the chart draws per client and day: requests, 429 or 5xx (default: as --rank-by)")
       :argname("WHAT"):convert(params.text.choice("chart", aggregate.RANK_NAMES)):overwrite(false),
    cmd:option("--scale", "y axis of the chart; auto picks log when the top clients differ by more than 100x " ..
                          "(default auto)")
       :argname("SCALE"):convert(params.text.choice("scale", { "auto", "linear", "log" })):overwrite(false),
    cmd:option("--compare", "compare with previous-period (as many days, just before) or previous-year (the " ..
                            "same days a year earlier): every figure of both periods and its change")
       :argname("WITH"):convert(params.text.choice("compare", history.COMPARE)):overwrite(false),
    cmd:option("--by", "org: each org's totals, days and top clients (with several orgs, or one)")
       :argname("WHAT"):convert(params.text.choice("by", { "org" })):overwrite(false),
    cmd:option("--org", "the org's label in the report (one org; with --store: the org of the store to read); " ..
                        "default: the --profile name, else \"" .. DEFAULT_ORG .. "\"")
       :argname("LABEL"):convert(org_label):overwrite(false),
    cmd:option("--svg", "also write the chart to FILE (SVG)"):argname("FILE"):overwrite(false),
    cmd:option("--html", "also write the HTML page to FILE"):argname("FILE"):overwrite(false))
  allowance.add(cmd)
  store_opt.add(cmd)
  output.add(cmd, FORMATS)
  connection.add(cmd, { orgs = true })
  term.add(cmd)
  return cmd
end

-- the call: the one job of the days and the filters, grouped as the report folds it
local function report_call(args, now)
  local c = call.request(args, FLOW, now, {})
  c.body.granularity, c.body.metrics, c.body.groupBy = "Day", models.enums.aggregate_metrics, GROUP_BY
  c.opts = { page_size = c.opts.page_size }
  return c
end

-- collect(session, client, c) -> the folded rows of the job (rows dated outside the days left out, and said)
local function collect(s, client, c)
  local agg = aggregate.new()
  local pager = run.start(s, client, c, NAME .. " aggregates")
  local inside = outside.new(c.days, "Day")
  run.each_page(s, pager, function(rows)
    for _, row in ipairs(rows) do
      if inside:keep(row.date) then aggregate.add_row(agg, row) end
    end
  end, M.name)
  s.term:done()
  failure.check()
  local note = inside:note()
  if note then s.term:warn(note) end
  local exact, why = aggregate.exact(agg)
  if not exact then failure.runtime(why) end -- (a total that would be wrong is never printed)
  return agg
end

-- the filters of the job (the body flags given: --oauth-client-id, --template-uri, ...), for usage.history
local function filters_of(c)
  local f
  for k, v in pairs(c.body or {}) do
    if k ~= "interval" and k ~= "granularity" and k ~= "metrics" and k ~= "groupBy" then
      f = f or {}
      f[k] = v
    end
  end
  return f
end

-- the source over the API: one client per org, each job's id as a note (with the command that reads it)
local function api_source(args, s, orgs)
  local list = {}
  for i, client in ipairs(connection.clients(args, orgs, s.term)) do
    list[i] = { client = client, org = orgs[i].label }
  end
  local track = connection.tracker(s, M.name, orgs)
  local src = history.from_api(list, { now = s.now, page_size = args.page_size,
                                       on_progress = function(label, period) return track(label, period) end })
  return src, list
end

-- a span the source cannot answer (the API's year): a usage error that says where those days are
local function refuse_outside(err, args)
  local message, n = tostring(err.message):gsub("sync one %(store:sync, [^)]*%) and read them from it",
    "sync one (" .. NAME .. " sync --store PATH|URL) and give the report --store PATH|URL")
  if n == 0 then message = message .. " (a history store holds older days: " .. NAME .. " sync, then --store)" end
  failure.usage(message, args.command)
end

local function source_failure(err, args)
  failure.check()
  if type(err) == "table" and err.code == "outside_window" then refuse_outside(err, args) end
  if type(err) == "table" and (err.code == "unsupported_filter" or err.code == "bad_span" or
                               err.code == "unknown_org") then
    failure.usage(tostring(err.message), args.command)
  end
  if type(err) == "table" and err.store then store_opt.fail(err, args.command) end
  failure.from_error(err, M.name)
end

-- the forecast of each org with an allowance (its section on the HTML page)
local function forecasts(src, orgs, now, args)
  local out = {}
  for _, o in ipairs(orgs) do
    if o.allowance then
      local result, err
      local input
      input, err = src:forecast_input { org = o.label, now = now }
      if input then
        result, err = forecast.compute { rows = input.rows, known = input.known, source = input.source,
                                         allowance = o.allowance, now = now, org = o.label }
      end
      if not result then source_failure(err, args) end
      out[#out + 1] = result
    end
  end
  return out
end

-- the days of the run: those of the flags (whole UTC days, ending yesterday at the latest)
local function report_days(c)
  local dates = {}
  for day = c.days.first_day, c.days.last_day do dates[#dates + 1] = interval.date(day) end
  return dates
end

-- write(args, s, out, fmt, r, d, view): the report in its format, the side files
local function write(args, s, out, fmt, r, d, view)
  local fh = out.fh
  if fmt == "table" then fh:write(rformats.table(r, d, view.title .. " (UTC)"))
  elseif fmt == "csv" then fh:write(rformats.csv(r, args.bom, args.raw_csv))
  elseif fmt == "json" then fh:write(rformats.json(r, { days = view.days }))
  elseif fmt == "ndjson" then fh:write(rformats.ndjson(r))
  elseif fmt == "html" then fh:write(page.html(r, d, view))
  else fh:write(chart.svg(r, view)) end
  for _, side in ipairs { { args.svg, function() return chart.svg(r, view) end, "chart" },
                          { args.html, function() return page.html(r, d, view) end, "page" } } do
    if side[1] then
      local ok, err = sink.write_file(side[1], side[2](), failure.runtime)
      if not ok then failure.runtime(err) end
      s.term:note(side[3] .. " written to " .. side[1])
    end
  end
end

-- over usage.history: the report of one period, or of a comparison
local function history_report(args, s, c, src, fmt, out, orgs, forecasting)
  local opts = { days = c.days, filters = filters_of(c), page_size = args.page_size }
  if src.kind == "store" then
    opts.org = {}
    for i, o in ipairs(orgs) do opts.org[i] = o.label end
  end
  local r, d, view
  local rank = { top = args.top or 10, rank_by = args.rank_by, only = args.only, by_org = args.by == "org" }
  if c.days.count == 0 then -- (the 1st of a month with --this-month: no whole day yet, nothing to read)
    if args.compare then
      failure.usage("--compare: " .. c.days.label .. ": there is nothing to compare", args.command)
    end
    rank.by_org, rank.days = nil, {}
    r = aggregate.rank(aggregate.new(), rank)
    d = aggregate.display(r)
    view = { title = "Genesys Cloud API usage, " .. c.days.label, days_label = c.days.label, scale = args.scale,
             chart = args.chart or args.rank_by, pairs = true, days = c.days }
  elseif args.compare then
    opts.compare = args.compare
    local cmp, err = src:compare(opts)
    s.term:done()
    if not cmp then source_failure(err, args) end
    r = rcompare.rank(cmp, rank)
    d = rcompare.display(r)
    view = { title = rformats.compare_title(r), scale = args.scale, chart = args.chart or args.rank_by, pairs = true,
             days = c.days }
    for _, p in ipairs { cmp.current_result, cmp.previous_result } do
      for _, note in ipairs(p.notes or {}) do s.term:warn(note) end
    end
    if fmt == "csv" or fmt == "ndjson" then
      s.term:note(format("the rows compare %s with %s (%s)", days.describe(cmp.current.days),
                         days.describe(cmp.previous.days), r.how_words))
    end
  else
    local res, err = src:read(opts)
    s.term:done()
    if not res then source_failure(err, args) end
    for _, note in ipairs(res.notes) do s.term:warn(note) end
    rank.days = res.dates
    r = aggregate.rank(aggregate.from_history(res), rank)
    d = aggregate.display(r)
    view = { title = "Genesys Cloud API usage, " .. c.days.label, days_label = c.days.label, scale = args.scale,
             chart = args.chart or args.rank_by, pairs = true, days = c.days }
    output.days_note(s.term, c.days, fmt)
  end
  failure.check()
  if r.inexact then failure.runtime(r.inexact) end -- (a figure that would be wrong is never printed)
  if forecasting then view.forecasts = forecasts(src, orgs, s.now, args) end
  write(args, s, out, fmt, r, d, view)
end

-- read_allowance(args, orgs, fmt) -> whether the page gets the forecast (allowance.read: each org's
-- o.allowance); an allowance for a format without the page is a usage error
local function read_allowance(args, orgs, fmt)
  local forecasting = allowance.read(args, orgs)
  if forecasting and fmt ~= "html" and not args.html then
    failure.usage("the fair-use forecast (--licenses, --allowance) is drawn on the HTML page: give --output " ..
                  "FILE.html, --format html or --html FILE (or run " .. NAME .. " forecast)", args.command)
  end
  return forecasting
end

-- the days flags (a store has no one-year limit: they are read apart from the call's checks)
local DAY_KEYS = { "last", "from", "to", "yesterday", "this_month", "last_month", "month", "interval" }

-- the call of a report over the store: the days of the flags, whatever their age, and the filters as
-- usage.cli.call reads them
local function store_call(args, now)
  local d, note = days.read(args, now)
  if not d then
    failure.usage("missing the days: give --last 30d, --from DAY [--to DAY], --yesterday, --this-month, " ..
                  "--last-month, --month YYYY-MM or --interval START/END (any span the store holds)", args.command)
  end
  local a = {}
  for k, v in pairs(args) do a[k] = v end
  for _, k in ipairs(DAY_KEYS) do a[k] = nil end
  a.yesterday = true -- (a day the call accepts: only its filters are kept)
  local c = report_call(a, now)
  c.days, c.days_note, c.window_note = d, note, nil
  return c
end

-- the orgs of a report over the store: those named (--profile, --all-profiles, --org), else every org of
-- the store; an org the store does not hold is a usage error that lists those it holds
local function store_orgs(args, s, st)
  local held, err = st:orgs()
  if not held then source_failure(err, args) end
  local labels, known = {}, {}
  for i, o in ipairs(held) do
    labels[i] = o.org
    known[o.org] = true
  end
  local orgs
  if args.all_profiles or args.profile then
    orgs = connection.orgs(args, s.term, args.org)
    for _, o in ipairs(orgs) do o.label = o.label or DEFAULT_ORG end
  elseif args.org then
    orgs = { { label = args.org } }
  else
    orgs = {}
    for i, l in ipairs(labels) do orgs[i] = { label = l } end
    if #orgs == 0 then
      failure.runtime("the store " .. tostring(st.where) .. " holds no org yet: fill it with " .. NAME ..
                      " sync --store " .. tostring(args.store))
    end
  end
  for _, o in ipairs(orgs) do
    if not known[o.label] then
      failure.usage(format("the store holds no org %s (it holds: %s)", o.label,
                           #labels > 0 and concat(labels, ", ") or "none"), args.command)
    end
  end
  return orgs
end

-- report --store: the history store, any span
local function store_run(args, s)
  local c = store_call(args, s.now)
  local fmt = output.format(args, FORMATS)
  local st = store_opt.open(args, args.command, { readonly = true, term = s.term })
  local ok, err = pcall(function()
    local orgs = store_orgs(args, s, st)
    local forecasting = read_allowance(args, orgs, fmt)
    if args.dry_run then
      local labels = {}
      for i, o in ipairs(orgs) do labels[i] = o.label end
      io.stdout:write(format("# %s reads the history store %s (nothing is sent): %s; org%s %s\n", M.name,
                             tostring(st.where), days.describe(c.days), #labels == 1 and "" or "s",
                             concat(labels, ", ")))
      return
    end
    if c.days_note then s.term:note(c.days_note) end
    local out = output.open(args)
    history_report(args, s, c, history.from_store(st), fmt, out, orgs, forecasting)
    output.commit(out, s.term)
  end)
  st:close()
  if not ok then error(err, 0) end
end

function M.run(args, s)
  if args.store ~= nil then return store_run(args, s) end
  local orgs = connection.orgs(args, s.term, args.org)
  for _, o in ipairs(orgs) do o.label = o.label or DEFAULT_ORG end
  local c = report_call(args, s.now)
  local fmt = output.format(args, FORMATS)
  local forecasting = read_allowance(args, orgs, fmt)
  local over_history = #orgs > 1 or args.compare or args.by or forecasting
  if args.dry_run then
    local calls = { c }
    if args.compare and c.days.count > 0 then -- (the second job: the period compared with)
      local before = interval.compare_period(c.days, args.compare)
      local fits, why = days.check_job_start(before, s.now)
      if not fits then
        failure.usage(format("--compare %s (%s): %s; older days are read from a history store (%s sync, then " ..
                             "--store PATH|URL)", args.compare, before.label, why, NAME), args.command)
      end
      local c2, body = {}, {}
      for k, v in pairs(c) do c2[k] = v end
      for k, v in pairs(c.body) do body[k] = v end
      body.interval, c2.body, c2.days = before.jobs, body, before
      calls[2] = c2
    end
    local text = {}
    for _, o in ipairs(orgs) do
      text[#text + 1] = (#orgs > 1 and ("# org " .. o.label .. "\n") or "") .. dryrun.text(M.name, o.creds, calls)
    end
    io.stdout:write(concat(text, "\n"))
    return
  end
  if c.days_note then s.term:note(c.days_note) end
  connection.note(orgs[1].creds, s.term)
  local out = output.open(args)
  if over_history then
    local src, list = api_source(args, s, orgs)
    history_report(args, s, c, src, fmt, out, orgs, forecasting)
    output.commit(out, s.term, c.window_note)
    for _, o in ipairs(list) do o.client:close() end
    return
  end
  local client, agg
  if c.days.count == 0 then -- (no complete day yet: nothing to ask)
    agg = aggregate.new()
  else
    client = connection.client(args, orgs[1].creds, s.term)
    agg = collect(s, client, c)
  end
  local r = aggregate.rank(agg, { top = args.top or 10, rank_by = args.rank_by, only = args.only, days = report_days(c) })
  local d = aggregate.display(r)
  local view = { title = "Genesys Cloud API usage, " .. c.days.label, days_label = c.days.label,
                 scale = args.scale, chart = args.chart or args.rank_by, pairs = true, days = c.days }
  write(args, s, out, fmt, r, d, view)
  output.days_note(s.term, c.days, fmt)
  output.commit(out, s.term, c.window_note)
  if client then client:close() end
end

return M
