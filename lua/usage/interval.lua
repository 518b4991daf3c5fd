-- usage.interval: ISO-8601 instants and intervals (START/END), and durations such as "7d".

local M = {}

local floor = math.floor

-- integer division that LuaJIT understands too (it has no // operator)
local function idiv(a, b)
  return floor(a / b)
end

local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = idiv((y >= 0 and y or y - 399), 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = idiv((153 * mp + 2), 5) + d - 1
  local doe = yoe * 365 + idiv(yoe, 4) - idiv(yoe, 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = idiv((z >= 0 and z or z - 146096), 146097)
  local doe = z - era * 146097
  local yoe = idiv(doe - idiv(doe, 1460) + idiv(doe, 36524) - idiv(doe, 146096), 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + idiv(yoe, 4) - idiv(yoe, 100))
  local mp = idiv((5 * doy + 2), 153)
  local d = doy - idiv((153 * mp + 2), 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return m <= 2 and y + 1 or y, m, d
end

local function month_days(y, m)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  return ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[m]
end

-- parse_instant("2025-01-31T10:00:00.000Z") -> unix seconds, has_time | nil, reason
function M.parse_instant(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "expected YYYY-MM-DD" end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > month_days(y, mo) then return nil, "no such date" end
  local secs = days_from_civil(y, mo, d) * 86400
  if rest == "" then return secs, false end
  local hh, mi, tail = rest:match("^T(%d%d):(%d%d)(.*)$")
  if not hh then return nil, "expected THH:MM after the date" end
  local ss, frac = 0, 0
  local s2, tail2 = tail:match("^:(%d%d)(.*)$")
  if s2 then
    ss, tail = tonumber(s2), tail2
    local f, tail3 = tail:match("^%.(%d+)(.*)$")
    if f then frac, tail = tonumber("0." .. f), tail3 end
  end
  hh, mi = tonumber(hh), tonumber(mi)
  if hh > 23 or mi > 59 or ss > 60 then return nil, "no such time" end
  local offset = 0
  if tail == "Z" or tail == "" then
    offset = 0
  else
    local sign, oh, om = tail:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil, "bad time zone (use Z or +HH:MM)" end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  return secs + hh * 3600 + mi * 60 + ss + frac - offset, true
end

-- parse("START/END") -> start, end (unix seconds), info | nil, reason
function M.parse(s)
  if type(s) ~= "string" then return nil, "the interval must be a string START/END" end
  local a, b = s:match("^([^/]+)/([^/]+)$")
  if not a then return nil, "expected START/END, e.g. 2025-01-01T00:00:00Z/2025-02-01T00:00:00Z" end
  local start, why = M.parse_instant(a)
  if not start then return nil, "bad start '" .. a .. "': " .. why end
  local finish, why2 = M.parse_instant(b)
  if not finish then return nil, "bad end '" .. b .. "': " .. why2 end
  return start, finish
end

-- format(unix_seconds [, date_only]) -> "2025-01-31T00:00:00Z" or "2025-01-31"
function M.format(t, date_only)
  t = math.floor(t)
  local days = idiv(t, 86400)
  local rem = t - days * 86400
  local y, m, d = civil_from_days(days)
  if date_only then return string.format("%04d-%02d-%02d", y, m, d) end
  return string.format("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, idiv(rem, 3600), idiv(rem % 3600, 60), rem % 60)
end

local units = { s = 1, m = 60, h = 3600, d = 86400, w = 7 * 86400 }

-- duration("7d") -> 604800 | nil, reason
function M.duration(s)
  local n, u = tostring(s):match("^(%d+)([smhdw]?)$")
  if not n then return nil, "expected a duration such as 90s, 30m, 24h, 7d or 2w" end
  return tonumber(n) * units[u ~= "" and u or "s"]
end

-- last(seconds, now) -> "START/END" ending now (UTC, whole seconds)
function M.last(seconds, now)
  now = math.floor(now or os.time())
  return M.format(now - seconds) .. "/" .. M.format(now)
end

M.days_from_civil = days_from_civil
M.civil_from_days = civil_from_days

return M
