-- genesys-usage report: who spends the API quota, who causes the 429s, and which client hits which
-- endpoint. One aggregates job over the days, by day, OAuth client and endpoint (templateUri + method):
-- its rows are folded as they arrive (usage.cli.report.aggregate over usage.base.rows) into the clients, the
-- endpoints and the client x endpoint pairs, ranked by requests, 429 or 5xx responses (--only keeps those
-- with 429s or 5xx), and written as a table, CSV, JSON, NDJSON, an SVG chart or an HTML page.
local interval = require "usage.base.interval"
local models = require "usage.api.models"
local run = require "usage.cli.run"
local flags = require "usage.cli.flags"
local sink = require "usage.cli.sink"
local failure = require "usage.cli.failure"
local aggregate = require "usage.cli.report.aggregate"
local rformats = require "usage.cli.report.formats"
local chart = require "usage.cli.report.chart"
local page = require "usage.cli.report.page"
local outside = require "usage.cli.outside"

local M = {
  name = "report",
  flow = "aggregates",
  -- the report sets these body fields itself; the others (the filters) stay flags
  owns = { groupBy = true, granularity = true, metrics = true, sortBy = true },
  formats = { "table", "csv", "json", "ndjson", "html", "svg" },
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
  extra = {
    { name = "top", arg = "N", convert = flags.number("top", { min = 1, max = 1000 }, true),
      doc = "how many clients and endpoints to list (default 10)" },
    { name = "rank-by", arg = "WHAT", convert = flags.choice("rank-by", aggregate.RANK_NAMES),
      doc = "order by requests, 429 (rate-limited responses) or 5xx (default requests)" },
    { name = "only", arg = "WHAT", convert = flags.choice("only", aggregate.ONLY_NAMES),
      doc = "list only the clients, endpoints and pairs with at least one 429 (or 5xx) response; the totals " ..
            "stay those of all the rows" },
    { name = "chart", arg = "WHAT", convert = flags.choice("chart", aggregate.RANK_NAMES),
      doc = "what the chart draws per client and day: requests, 429 or 5xx (default: as --rank-by)" },
    { name = "scale", arg = "SCALE", convert = flags.choice("scale", { "auto", "linear", "log" }),
      doc = "y axis of the chart; auto picks log when the top clients differ by more than 100x (default auto)" },
    { name = "svg", arg = "FILE", doc = "also write the chart to FILE (SVG)" },
    { name = "html", arg = "FILE", doc = "also write the HTML page to FILE" },
  },
}

-- the one job: the days and filters of the flags, by day, OAuth client (id and name) and endpoint
M.GROUP_BY = { "OauthClientId", "OauthClientName", "TemplateUri", "HttpMethod" }

function M.calls(ctx)
  local body = {}
  for k, v in pairs(run.body(ctx, ctx.flags.flow)) do body[k] = v end
  body.granularity, body.metrics, body.groupBy = "Day", models.enums.aggregate_metrics, M.GROUP_BY
  return { { flow = ctx.flags.flow, params = {}, body = body, opts = { page_size = ctx.opts.page_size },
             name = "report" } }
end

-- collect(ctx) -> the folded rows of the job (rows dated outside the days left out, and said)
local function collect(ctx)
  local agg = aggregate.new()
  if ctx.days.count == 0 then return agg end -- (no complete day yet: nothing to ask)
  local days = outside.new(ctx.days, "Day")
  local pager = run.start(ctx, M.calls(ctx)[1])
  run.each_page(ctx, pager, function(rows)
    for _, row in ipairs(rows) do
      if days:keep(row.date) then aggregate.add_row(agg, row) end
    end
  end)
  ctx.term:done()
  failure.check()
  local note = days:note()
  if note then ctx.term:warn(note) end
  local exact, why = aggregate.exact(agg)
  if not exact then failure.runtime(why) end -- (a total that would be wrong is never printed)
  return agg
end

function M.run(ctx)
  local o = ctx.options
  local dates = {}
  for day = ctx.days.first_day, ctx.days.last_day do dates[#dates + 1] = interval.date(day) end
  local r = aggregate.rank(collect(ctx), { top = o.top or 10, rank_by = o["rank-by"], only = o.only, days = dates })
  local d = aggregate.display(r)
  local view = { title = "Genesys Cloud API usage, " .. ctx.days.label, days_label = ctx.days.label,
                 scale = o.scale, chart = o.chart or o["rank-by"], pairs = true }
  local out = ctx.out.fh
  if ctx.format == "table" then out:write(rformats.table(r, d, view.title .. " (UTC)"))
  elseif ctx.format == "csv" then out:write(rformats.csv(r, o.bom, o["raw-csv"]))
  elseif ctx.format == "json" then out:write(rformats.json(r, ctx.meta))
  elseif ctx.format == "ndjson" then out:write(rformats.ndjson(r))
  elseif ctx.format == "html" then out:write(page.html(r, d, view))
  else out:write(chart.svg(r, view)) end
  run.days_note(ctx)
  for _, side in ipairs { { o.svg, function() return chart.svg(r, view) end, "chart" },
                          { o.html, function() return page.html(r, d, view) end, "page" } } do
    if side[1] then
      local ok, err = sink.write_file(side[1], side[2](), failure.runtime)
      if not ok then failure.runtime(err) end
      ctx.term:note(side[3] .. " written to " .. side[1])
    end
  end
end

return M
