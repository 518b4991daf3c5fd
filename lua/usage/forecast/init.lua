-- usage.forecast: will this month fit the fair-use allowance, and who is driving it.
--
--   local forecast = require "usage.forecast"
--   local allowance = assert(forecast.allowance { licenses = "cx3=1000" })   -- or { allowance = 140000000 }
--   local result, err = forecast.from_api(client, { allowance = allowance, org = "acme" })
--   io.write(forecast.text(result))                          -- a table for people
--   local out, status = forecast.plugin(result, { warning = 80, critical = 100 })  -- Nagios/Icinga form
--   local doc = forecast.json(result)                        -- the method, its inputs, every figure
--   local exposition = forecast.prometheus(result)           -- gauges with an org label
--
-- From another source (the history store, a file): forecast.compute { rows = ..., known = ..., allowance =,
-- now =, org = } with the rows of forecast.span(now). docs/forecast.md describes the method and each output.

local licenses = require "usage.forecast.licenses"
local method = require "usage.forecast.method"
local source = require "usage.forecast.source"
local days = require "usage.forecast.days"

local M = {}

M.licenses = licenses          -- TIERS, SOURCE, parse(text), parse_allowance(v), allowance(spec), label(list)
M.allowance = licenses.allowance
M.parse_licenses = licenses.parse
M.compute = method.compute
M.span = source.span
M.job_body = source.job_body
M.fetch = source.fetch
M.rows = source.rows             -- rows(span): an accumulator of aggregates rows -> the input of compute
M.known = days.known
M.DEFAULTS = method.DEFAULTS

-- from_api(client, opts) -> result | nil, err: fetch (one aggregates job) then compute. opts: those of
-- compute (allowance required, org, now, thresholds) and of fetch (on_progress, page_size, headers).
function M.from_api(client, opts)
  opts = opts or {}
  if opts.allowance == nil then error("usage.forecast.from_api: opts.allowance is required", 2) end
  local input, err = source.fetch(client, opts)
  if not input then return nil, err end
  local c = {}
  for k, v in pairs(opts) do c[k] = v end
  c.rows, c.known, c.source = input.rows, input.known, input.source
  return method.compute(c)
end

local text = require "usage.forecast.text"
local plugin = require "usage.forecast.plugin"
local document = require "usage.forecast.document"
local prometheus = require "usage.forecast.prometheus"

M.text = text.render                 -- text(result [, { clients = 10 }]) -> a table for people
M.plugin = plugin.render             -- plugin(result [, { warning, critical, clients, perf_clients }]) -> text, status
M.plugin_unknown = plugin.unknown    -- plugin_unknown(message) -> text, 3
M.thresholds = plugin.thresholds     -- thresholds(warning, critical) -> { warning, critical } | nil, message
M.document = document.document       -- document(result) -> the table --format json prints
M.json = document.encode             -- json(result) -> JSON text
M.prometheus = prometheus.render     -- prometheus(result | { results } [, opts]) -> exposition text
M.add_metrics = prometheus.add       -- add_metrics(writer, result [, opts]) -> writer (usage.prometheus.text)
M.FAMILIES = prometheus.FAMILIES

return M
