-- genesys-usage report: who spends the API quota, who causes the 429s, and which client hits which
-- endpoint. One aggregates job over the days, by day, OAuth client and endpoint (templateUri + method):
-- its rows are folded as they arrive (usage.cli.report.aggregate over usage.base.rows) into the clients, the
-- endpoints and the client x endpoint pairs, ranked by requests, 429 or 5xx responses (--only keeps those
-- with 429s or 5xx), and written as a table, CSV, JSON, NDJSON, an SVG chart or an HTML page.
local flows = require "usage.flows"
local interval = require "usage.base.interval"
local models = require "usage.api.models"
local params = require "usage.api.params"
local help = require "usage.cli.help"
local call = require "usage.cli.call"
local days = require "usage.cli.days"
local output = require "usage.cli.output"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local run = require "usage.cli.run"
local dryrun = require "usage.cli.dryrun"
local sink = require "usage.cli.sink"
local failure = require "usage.cli.failure"
local outside = require "usage.cli.outside"
local aggregate = require "usage.cli.report.aggregate"
local rformats = require "usage.cli.report.formats"
local chart = require "usage.cli.report.chart"
local page = require "usage.cli.report.page"
local NAME = require("usage.cli.program").NAME

local M = { name = "report" }

local FLOW = flows.by_name.aggregates
local FORMATS = { "table", "csv", "json", "ndjson", "html", "svg" }
-- the body fields the report sets itself (the one job below); the others (the filters) stay flags
local OWNS = { groupBy = true, granularity = true, metrics = true, sortBy = true }
-- the one job: the days and filters of the flags, by day, OAuth client (id and name) and endpoint
local GROUP_BY = { "OauthClientId", "OauthClientName", "TemplateUri", "HttpMethod" }

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name, flow = FLOW,
    summary = "Who spends the API quota and who causes the 429s: top OAuth clients, endpoints and client x " ..
              "endpoint pairs, a chart.",
    about = "Who spends the API quota and who causes the 429s: the top OAuth clients, endpoints " ..
            "(templateUri + method) and client x endpoint pairs (which client hit which endpoint) by requests, " ..
            "429 or 5xx responses, with counts and ratios, the status-class shares and the daily series; as a " ..
            "table, CSV, JSON, NDJSON, an SVG chart or an HTML page.",
    examples = {
      "--last 30d",
      "--last 7d --rank-by 429 --top 5 --output who-gets-429.csv",
      "--last 7d --rank-by 429 --only 429",
      "--last-month --rank-by 5xx --chart 5xx --output report.html",
      "--last 30d --svg out/usage-report.svg",
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
    cmd:option("--svg", "also write the chart to FILE (SVG)"):argname("FILE"):overwrite(false),
    cmd:option("--html", "also write the HTML page to FILE"):argname("FILE"):overwrite(false))
  output.add(cmd, FORMATS)
  connection.add(cmd)
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

function M.run(args, s)
  local creds = connection.credentials(args, s.term)
  local c = report_call(args, s.now)
  local fmt = output.format(args, FORMATS)
  if args.dry_run then
    io.stdout:write(dryrun.text(M.name, creds, { c }))
    return
  end
  if c.days_note then s.term:note(c.days_note) end
  connection.note(creds, s.term)
  local out = output.open(args)
  local client, agg
  if c.days.count == 0 then -- (no complete day yet: nothing to ask)
    agg = aggregate.new()
  else
    client = connection.client(args, creds, s.term)
    agg = collect(s, client, c)
  end
  local dates = {}
  for day = c.days.first_day, c.days.last_day do dates[#dates + 1] = interval.date(day) end
  local r = aggregate.rank(agg, { top = args.top or 10, rank_by = args.rank_by, only = args.only, days = dates })
  local d = aggregate.display(r)
  local view = { title = "Genesys Cloud API usage, " .. c.days.label, days_label = c.days.label,
                 scale = args.scale, chart = args.chart or args.rank_by, pairs = true }
  local fh = out.fh
  if fmt == "table" then fh:write(rformats.table(r, d, view.title .. " (UTC)"))
  elseif fmt == "csv" then fh:write(rformats.csv(r, args.bom, args.raw_csv))
  elseif fmt == "json" then fh:write(rformats.json(r, { days = c.days }))
  elseif fmt == "ndjson" then fh:write(rformats.ndjson(r))
  elseif fmt == "html" then fh:write(page.html(r, d, view))
  else fh:write(chart.svg(r, view)) end
  output.days_note(s.term, c.days, fmt)
  for _, side in ipairs { { args.svg, function() return chart.svg(r, view) end, "chart" },
                          { args.html, function() return page.html(r, d, view) end, "page" } } do
    if side[1] then
      local ok, err = sink.write_file(side[1], side[2](), failure.runtime)
      if not ok then failure.runtime(err) end
      s.term:note(side[3] .. " written to " .. side[1])
    end
  end
  output.commit(out, s.term, c.window_note)
  if client then client:close() end
end

return M
