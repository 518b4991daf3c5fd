-- fake.util: dates, ids, hashing and small helpers for the fake cloud (runs in the nginx worker, LuaJIT).

local bit = require "bit"
local bxor, rshift = bit.bxor, bit.rshift
local floor, format = math.floor, string.format

local M = {}

local TWO32 = 4294967296

-- 32-bit multiply without precision loss in doubles.
local function mul32(a, b)
  local al = a % 65536
  local ah = (a - al) / 65536
  return ((ah * b % 65536) * 65536 + al * b) % TWO32
end

-- murmur3 finaliser: a good 32-bit mixer.
local function fmix(h)
  h = h % TWO32
  h = bxor(h, rshift(h, 16)) % TWO32
  h = mul32(h, 0x85ebca6b)
  h = bxor(h, rshift(h, 13)) % TWO32
  h = mul32(h, 0xc2b2ae35)
  h = bxor(h, rshift(h, 16)) % TWO32
  return h
end
M.fmix = fmix

-- hash(a, b, c, ...) of small non-negative integers -> [0, 2^32)
function M.hash(...)
  local h = 0x9e3779b9
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    h = fmix(bxor(h, fmix(v % TWO32)) % TWO32 + i)
  end
  return h
end

-- uniform [0, 1) from integers
function M.rand(...)
  return M.hash(...) / TWO32
end

-- ---------------------------------------------------------------- dates (days since 1970-01-01, UTC)

function M.days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

function M.civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local date_cache = {}
function M.ymd(day)
  local s = date_cache[day]
  if not s then
    local y, m, d = M.civil_from_days(day)
    s = format("%04d-%02d-%02d", y, m, d)
    date_cache[day] = s
  end
  return s
end

function M.ymd_time(day)
  return M.ymd(day) .. "T00:00:00.000Z"
end

-- 0 = Monday ... 6 = Sunday
function M.weekday(day)
  return (day + 3) % 7
end

function M.bucket(day, granularity)
  if granularity == "Week" then
    return day - (day + 3) % 7
  elseif granularity == "Month" then
    local y, m = M.civil_from_days(day)
    return M.days_from_civil(y, m, 1)
  end
  return day
end

local function days_in_month(y, m)
  local nd = m == 12 and M.days_from_civil(y + 1, 1, 1) or M.days_from_civil(y, m + 1, 1)
  return nd - M.days_from_civil(y, m, 1)
end

-- Parse an ISO-8601 date or date-time. Returns seconds since the epoch (UTC) and date_only, or nil.
function M.parse_datetime(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > days_in_month(y, mo) then return nil end
  local secs = M.days_from_civil(y, mo, d) * 86400
  if rest == "" then return secs, true end
  local hh, mi, tail = rest:match("^[Tt](%d%d):(%d%d)(.*)$")
  if not hh then return nil end
  hh, mi = tonumber(hh), tonumber(mi)
  local ss = 0
  local sec, tail2 = tail:match("^:(%d%d)(.*)$")
  if sec then
    ss = tonumber(sec)
    tail = tail2
    local frac, tail3 = tail:match("^[%.,](%d+)(.*)$")
    if frac then
      ss = ss + tonumber("0." .. frac)
      tail = tail3
    end
  end
  if hh > 24 or mi > 59 or ss >= 61 or (hh == 24 and (mi > 0 or ss > 0)) then return nil end
  local offset = 0
  if tail == "Z" or tail == "z" or tail == "" then
    offset = 0
  else
    local sign, oh, om = tail:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then
      sign, oh = tail:match("^([+-])(%d%d)$")
      om = "00"
    end
    if not sign then return nil end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  return secs + hh * 3600 + mi * 60 + ss - offset, false
end

-- Parse "start/end" (ISO-8601 instants; a date alone is 00:00 UTC of that day).
-- Returns {start=secs, finish=secs, span=finish-start} or nil, why. Which days it covers depends on the
-- generation of the operation: see interval_days.
function M.parse_interval(s)
  if type(s) ~= "string" then return nil, "interval must be a string" end
  local a, b = s:match("^([^/]+)/([^/]+)$")
  if not a then return nil, "interval must be two ISO-8601 instants separated by '/'" end
  local start = M.parse_datetime(a)
  if not start then return nil, "invalid interval start '" .. a .. "'" end
  local finish = M.parse_datetime(b)
  if not finish then return nil, "invalid interval end '" .. b .. "'" end
  return { start = start, finish = finish, span = finish - start }
end

-- The UTC days (first, last; days since the epoch) an interval covers, or nil, why.
--   gen "new" (aggregates jobs): start and end are inclusive: every day from the day of the start through
--     the day of the end (the end may equal the start);
--   gen "old": the documentation does not say whether the end is included, so the fake reads it either way
--     (config old_interval_end): "exclusive" (the default) the days overlapping [start, end): an end at 00:00
--     (or a date alone) excludes its day; "inclusive" the days overlapping [start, end]: it includes it. An end
--     inside a day (such as 23:59:59.999) gives the same days under both. The end must be after the start.
function M.interval_days(iv, gen, old_end)
  if gen == "new" then
    if iv.finish < iv.start then return nil, "the interval end is before its start" end
    return floor(iv.start / 86400), floor(iv.finish / 86400)
  end
  if iv.finish <= iv.start then return nil, "the interval end must be after its start" end
  if old_end == "inclusive" then return floor(iv.start / 86400), floor(iv.finish / 86400) end
  return floor(iv.start / 86400), math.ceil(iv.finish / 86400) - 1
end

-- The same calendar date one year before `day` (a 29 February becomes the 28th).
function M.year_before(day)
  local y, m, d = M.civil_from_days(day)
  y = y - 1
  local dim = days_in_month(y, m)
  if d > dim then d = dim end
  return M.days_from_civil(y, m, d)
end

-- ---------------------------------------------------------------- ids

local counter = 0
local function hex(n, width)
  return format("%0" .. width .. "x", n)
end

-- A fresh UUID-shaped id (version 4 layout); unique within the worker thanks to a counter.
local random = math.random
function M.uuid()
  counter = counter + 1
  return format("%08x-%04x-4%03x-%04x-%04x%08x", random(0, 0x7fffffff), random(0, 0xffff), random(0, 0xfff),
    0x8000 + random(0, 0x3fff), counter % 0x10000, random(0, 0x7fffffff))
end

function M.token()
  counter = counter + 1
  local parts = {}
  for i = 1, 6 do parts[i] = hex(math.random(0, 0xffffff), 6) end
  return hex(counter % 0x1000000, 6) .. table.concat(parts)
end

-- url-safe base64 without padding
function M.b64url(s)
  local b = ngx.encode_base64(s)
  return (b:gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

function M.unb64url(s)
  if type(s) ~= "string" or not s:match("^[%w_%-]+$") then return nil end
  s = s:gsub("[-_]", { ["-"] = "+", ["_"] = "/" })
  local pad = #s % 4
  if pad == 1 then return nil end
  if pad > 0 then s = s .. string.rep("=", 4 - pad) end
  return ngx.decode_base64(s)
end

-- plain substring or Lua pattern
function M.path_matches(path, pat)
  if pat == nil then return true end
  if path:find(pat, 1, true) then return true end
  local ok, found = pcall(string.find, path, pat)
  return ok and found ~= nil
end

return M
