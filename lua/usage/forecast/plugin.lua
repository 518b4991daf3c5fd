-- usage.forecast.plugin: a forecast as a monitoring plugin answers (the Nagios / Icinga / Monitoring Plugins
-- convention, also read by Zabbix and Sensu): an exit status, one status line with performance data, then
-- detail lines.
--
--   local out, status = require("usage.forecast.plugin").render(result, { warning = 80, critical = 100 })
--   io.write(out); os.exit(status)        -- 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
--
-- The thresholds are percentages of the allowance that the projection for the whole month may reach:
-- as the plugins' range "80" reads, 80% exactly is OK and anything above is WARNING. The status line:
--   GENESYS USAGE WARNING - acme: ... | 'projected_pct'=93.02%;80;100;0 'projected'=130233112;112000000;...
-- Performance data follow the guidelines: 'label'=value[UOM];[warn];[crit];[min];[max], labels always in
-- single quotes (and without ' and =), values in plain decimal (no exponent), % only for percentages.

local words = require "usage.forecast.words"

local M = {}

local format, concat = string.format, table.concat
local floor = math.floor
local thousands, pct = words.thousands, words.pct

M.OK, M.WARNING, M.CRITICAL, M.UNKNOWN = 0, 1, 2, 3
M.STATUS = { [0] = "OK", [1] = "WARNING", [2] = "CRITICAL", [3] = "UNKNOWN" }
local SERVICE = "GENESYS USAGE"
local DEFAULT_WARNING = 80
local DEFAULT_CRITICAL = 100

-- a number for the performance data: digits, "-" and "." only (never an exponent); integers in full,
-- others with at most 4 decimals, trailing zeros dropped
local function perf_number(v)
  if v == floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then return format("%.0f", v) end
  local s = format("%.4f", v):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- a label for the performance data: in single quotes, without the characters the format cannot carry
-- (' and =, "|", control characters)
local function perf_label(s)
  s = words.clean(s):gsub("['=]", "_")
  return "'" .. s .. "'"
end

-- 'label'=value[uom];warn;crit;min;max (empty fields kept, trailing ones dropped)
local function perf(label, value, uom, warn, crit, min, max)
  local fields = { warn and perf_number(warn) or "", crit and perf_number(crit) or "", min and perf_number(min) or "",
                   max and perf_number(max) or "" }
  while #fields > 0 and fields[#fields] == "" do fields[#fields] = nil end
  local s = perf_label(label) .. "=" .. perf_number(value) .. (uom or "")
  if #fields > 0 then s = s .. ";" .. concat(fields, ";") end
  return s
end
M.perf = perf

-- thresholds(warning, critical) -> { warning =, critical = } | nil, message: percentages of the allowance,
-- numbers or text ("80", "92.5"); defaults 80 and 100. Ranges ("10:20", "@80") are not supported: say so.
function M.thresholds(warning, critical)
  local out = {}
  for name, v in pairs { warning = warning, critical = critical } do
    local n
    if type(v) == "number" then
      n = v
    elseif type(v) == "string" then
      if v:find("[:@~]") then
        return nil, "--" .. name .. " takes a percentage of the allowance (e.g. 80), not a range ('" .. v .. "')"
      end
      n = v:match("^%s*%d+%.?%d*%s*$") and tonumber(v) or nil
      if not n then return nil, "--" .. name .. " must be a percentage of the allowance such as 80, got '" .. v .. "'" end
    elseif v ~= nil then
      error("usage.forecast.plugin.thresholds: " .. name .. " must be a number or a string", 2)
    end
    if n and (n ~= n or n < 0 or n == math.huge) then
      return nil, "--" .. name .. " must be a percentage >= 0, got " .. tostring(v)
    end
    out[name] = n
  end
  out.warning = out.warning or DEFAULT_WARNING
  out.critical = out.critical or DEFAULT_CRITICAL
  return out
end

-- status(projection, allowance, thresholds) -> 0 | 1 | 2: above critical% of the allowance CRITICAL, above
-- warning% WARNING (compared as projection * 100 > threshold * allowance: no rounding at the boundary)
function M.status(projection, allowance, t)
  if projection * 100 > t.critical * allowance then return M.CRITICAL end
  if projection * 100 > t.warning * allowance then return M.WARNING end
  return M.OK
end

-- unknown(message) -> text, 3: the answer when there is no forecast (an error, no history)
function M.unknown(message)
  return SERVICE .. " UNKNOWN - " .. words.clean(message) .. "\n", M.UNKNOWN
end

--[[ render(result [, opts]) -> text, status
  opts.warning, opts.critical  percentages of the allowance (default 80, 100; numbers or text, as thresholds())
  opts.perf_clients            also give the projection of the N clients with the most (default 0)
  opts.clients                 how many clients the detail lines name (default 5; as many called-out ones;
                               the status line names at most 3)
]]
function M.render(r, opts)
  opts = opts or {}
  local t, why = M.thresholds(opts.warning, opts.critical)
  if not t then error("usage.forecast.plugin: " .. why, 2) end
  local A = r.allowance.requests
  local p, mtd = r.projection, r.month_to_date
  local org = words.clean(r.org)
  if not p then
    local reason = "no projection"
    for _, n in ipairs(r.notes) do if n:find("no projection", 1, true) then reason = n end end
    local out = SERVICE .. " UNKNOWN - " .. org .. ": " .. words.clean(reason) .. " | " ..
      perf("month_to_date", mtd.requests, nil, nil, nil, 0) .. " " .. perf("allowance", A, nil, nil, nil, 0) .. "\n" ..
      "Month to date: " .. thousands(mtd.requests) .. " requests, " .. mtd.days.label .. "\n"
    return out, M.UNKNOWN
  end
  local status = M.status(p.requests, A, t)
  local head = format("%s %s - %s: projected %s requests in %s, %s of the allowance of %s", SERVICE,
    M.STATUS[status], org, thousands(p.requests), r.month.name, pct(p.share), thousands(A))
  if p.band then head = head .. format(" (band %s - %s)", pct(p.band.low_share), pct(p.band.high_share)) end
  if r.runs_out then head = head .. "; runs out " .. r.runs_out.label
  else head = head .. "; fits the month" end
  if #r.called_out > 0 then
    local names = {}
    for i, c in ipairs(r.called_out) do
      if i <= 3 then names[#names + 1] = words.client(c) .. " (" .. c.status .. ")" end
    end
    if #r.called_out > 3 then names[#names + 1] = (#r.called_out - 3) .. " more" end
    head = head .. "; called out: " .. concat(names, ", ")
  end

  local data = {
    perf("projected_pct", p.share * 100, "%", t.warning, t.critical, 0),
    perf("projected", p.requests, nil, A * t.warning / 100, A * t.critical / 100, 0),
  }
  if p.band then
    data[#data + 1] = perf("projected_low", p.band.low, nil, nil, nil, 0)
    data[#data + 1] = perf("projected_high", p.band.high, nil, nil, nil, 0)
  end
  data[#data + 1] = perf("month_to_date", mtd.requests, nil, nil, nil, 0)
  data[#data + 1] = perf("month_to_date_pct", (mtd.share or 0) * 100, "%", nil, nil, 0)
  data[#data + 1] = perf("allowance", A, nil, nil, nil, 0)
  data[#data + 1] = perf("month_to_date_days", mtd.days.count, nil, nil, nil, 0, r.month.count)
  local n = opts.perf_clients or 0
  for i = 1, math.min(n, #r.clients) do
    local c = r.clients[i]
    data[#data + 1] = perf("client " .. words.client(c), c.projection.requests, nil, nil, nil, 0)
  end

  local lines = { head .. " | " .. concat(data, " ") }
  local function line(s) lines[#lines + 1] = words.clean(s) end
  line(format("Month to date: %s requests, %s, %s of the allowance (today, %s, not counted)", thousands(mtd.requests),
    mtd.days.count > 0 and mtd.days.label or "no whole day yet", pct(mtd.share), r.today.label))
  if mtd.missing.count > 0 then line("Missing from the source (estimated): " .. mtd.missing.label) end
  line(format("Projection: %s = %s counted + %s estimated for %s, by the %s of %s (%s of history)",
    thousands(p.requests), thousands(mtd.requests), thousands(p.requests - mtd.requests), p.estimated.days.label,
    r.method.name, r.method.window.label, words.plural_days(p.history_days)))
  if p.band then
    line(format("Band: %s - %s requests%s", thousands(p.band.low), thousands(p.band.high),
      p.band_note and " (" .. p.band_note .. ")" or ""))
  else
    line("Band: none (" .. (p.band_note or "") .. ")")
  end
  local ov = r.overage
  line(format("Overage: %s requests expected beyond the allowance of %s (%s)", thousands(ov.requests), thousands(A),
    r.allowance.label or ""))
  line("Runs out: " .. words.runs_out(r))
  line(format("Thresholds: WARNING above %s%%, CRITICAL above %s%% of the allowance at the month's end",
    perf_number(t.warning), perf_number(t.critical)))
  local shown = opts.clients or 5
  for i, c in ipairs(r.called_out) do
    if i <= shown then line("Called out: " .. words.called_out(c)) end
  end
  if #r.called_out > shown then line(format("Called out: %d more (see the forecast's table)", #r.called_out - shown)) end
  local top = {}
  for i = 1, math.min(opts.clients or 5, #r.clients) do
    local c = r.clients[i]
    top[#top + 1] = format("%s %s (%s)", words.client(c), thousands(c.projection.requests), pct(c.projection.share))
  end
  if #top > 0 then line("Top clients by projection: " .. concat(top, ", ")) end
  for _, note in ipairs(r.notes) do line("Note: " .. note) end
  return concat(lines, "\n") .. "\n", status
end

return M
