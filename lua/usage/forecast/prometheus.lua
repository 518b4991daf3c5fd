-- usage.forecast.prometheus: a forecast as Prometheus gauges, each with an `org` label (the text
-- exposition format through usage.prometheus.text). docs/forecast.md lists the families; the alerting rules
-- in examples/prometheus/genesys-usage-rules.yml read them.
--
--   local fp = require "usage.forecast.prometheus"
--   local text = fp.render({ result_a, result_b })        -- one exposition for several orgs
--   fp.add(writer, result)                                -- into a usage.prometheus.text writer of your own

local ptext = require "usage.prometheus.text"
local interval = require "usage.base.interval"

local M = {}

local DAY = interval.DAY

M.DEFAULT_MAX_CLIENTS = 500

M.FAMILIES = {
  { name = "genesys_usage_month_to_date_requests",
    help = "API requests of the organization in the whole UTC days of this month so far (today is never " ..
           "counted; the days are those between genesys_usage_month_to_date_start_timestamp_seconds and " ..
           "genesys_usage_month_to_date_end_timestamp_seconds)." },
  { name = "genesys_usage_month_to_date_start_timestamp_seconds",
    help = "Start of the month to date: 00:00 UTC of the 1st of this month, as Unix time." },
  { name = "genesys_usage_month_to_date_end_timestamp_seconds",
    help = "End of the month to date: 00:00 UTC of today (the end is exclusive; equal to the start on the 1st), " ..
           "as Unix time." },
  { name = "genesys_usage_projected_requests",
    help = "Projected API requests of the organization for the whole current UTC month: the month to date plus " ..
           "each remaining day at the mean of its weekday over the last 28 whole days (docs/forecast.md)." },
  { name = "genesys_usage_projected_low_requests",
    help = "Low end of the projection's band: the rest of the month at the pace of the quietest of the last " ..
           "four weeks (absent when there is too little history for a band)." },
  { name = "genesys_usage_projected_high_requests",
    help = "High end of the projection's band: the rest of the month at the pace of the busiest of the last " ..
           "four weeks (absent when there is too little history for a band)." },
  { name = "genesys_usage_allowance_requests",
    help = "The organization's monthly fair-use allowance of API requests (from its licences or its contract)." },
  { name = "genesys_usage_forecast_timestamp_seconds",
    help = "Unix time at which the forecast was computed." },
  { name = "genesys_usage_oauth_client_projected_requests",
    help = "Projected API requests of an OAuth client of the organization for the whole current UTC month " ..
           "(client_id=\"other\" sums the clients beyond the series cap)." },
}
local HELP = {}
for _, f in ipairs(M.FAMILIES) do HELP[f.name] = f.help end

local function fail(message, level)
  error("usage.forecast.prometheus: " .. message, (level or 1) + 1)
end

local function gauge(w, name)
  return w:family(name, "gauge", HELP[name])
end

-- add(writer, result [, opts]) -> writer: the families of one org's forecast. opts.org overrides the
-- result's org label (for one result); rows without a client id have client_id="" and their name; opts.max_clients caps the per-client series (default 500, the rest summed in "other").
function M.add(w, r, opts)
  opts = opts or {}
  if type(r) ~= "table" or type(r.allowance) ~= "table" or type(r.month_to_date) ~= "table" then
    fail("expects a forecast result", 2)
  end
  local org = opts.org or r.org
  if type(org) ~= "string" then fail("the org label must be a string", 2) end
  local max_clients = opts.max_clients or M.DEFAULT_MAX_CLIENTS
  if type(max_clients) ~= "number" or max_clients < 1 or max_clients ~= math.floor(max_clients) then
    fail("max_clients must be a whole number >= 1", 2)
  end
  local labels = { org = org }
  local today = interval.parse_date(r.today.date)
  local month_first = interval.parse_date(r.month.first)
  gauge(w, "genesys_usage_month_to_date_requests"):add(labels, r.month_to_date.requests)
  gauge(w, "genesys_usage_month_to_date_start_timestamp_seconds"):add(labels, month_first * DAY)
  gauge(w, "genesys_usage_month_to_date_end_timestamp_seconds"):add(labels, today * DAY)
  gauge(w, "genesys_usage_allowance_requests"):add(labels, r.allowance.requests)
  local now = interval.parse_instant(r.now)
  if now then gauge(w, "genesys_usage_forecast_timestamp_seconds"):add(labels, now) end
  local p = r.projection
  if p then
    gauge(w, "genesys_usage_projected_requests"):add(labels, p.requests)
    if p.band then
      gauge(w, "genesys_usage_projected_low_requests"):add(labels, p.band.low)
      gauge(w, "genesys_usage_projected_high_requests"):add(labels, p.band.high)
    end
    local other, n = nil, 0
    for i, c in ipairs(r.clients) do
      if c.projection then
        if i < max_clients or #r.clients <= max_clients then
          n = n + 1
          gauge(w, "genesys_usage_oauth_client_projected_requests"):add(
            { org = org, client_id = c.id, client_name = c.name },
            c.projection.requests)
        else
          other = (other or 0) + c.projection.requests
        end
      end
    end
    if other then
      gauge(w, "genesys_usage_oauth_client_projected_requests"):add(
        { org = org, client_id = "other", client_name = "other" }, other)
    end
  end
  return w
end

-- render(results [, opts]) -> exposition text. results: one forecast result or an array of them (several
-- orgs: their org labels must differ).
function M.render(results, opts)
  if type(results) ~= "table" then fail("expects a forecast result or an array of them", 2) end
  if results.allowance then results = { results } end
  local w = ptext.writer()
  for _, r in ipairs(results) do M.add(w, r, opts) end
  return w:render()
end

return M
