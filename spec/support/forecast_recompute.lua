-- support.forecast_recompute: an independent implementation of the forecast's documented method
-- (docs/forecast.md), sharing no code with usage.forecast: Julian day numbers and plain tables keyed by date
-- strings. The specs compare usage.forecast's figures with it.
--
--   local recompute = require("support.forecast_recompute").recompute
--   local want = recompute(data, known, "2026-03-20", 140000000)
--   -- data: { [client id] = { ["YYYY-MM-DD"] = requests } }, known: { ["YYYY-MM-DD"] = true }
--   -- want = { projection =, mtd =, low =, high =, clients = { [client id] = projection } }

local M = {}

local floor = math.floor

function M.jdn(s)
  local y, m, d = s:match("^(%d+)-(%d+)-(%d+)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  local a = floor((14 - m) / 12)
  local y2, m2 = y + 4800 - a, m + 12 * a - 3
  return d + floor((153 * m2 + 2) / 5) + 365 * y2 + floor(y2 / 4) - floor(y2 / 100) + floor(y2 / 400) - 32045
end

function M.from_jdn(j)
  local a = j + 32044
  local b = floor((4 * a + 3) / 146097)
  local c = a - floor(146097 * b / 4)
  local d = floor((4 * c + 3) / 1461)
  local e = c - floor(1461 * d / 4)
  local m = floor((5 * e + 2) / 153)
  local day = e - floor((153 * m + 2) / 5) + 1
  local month = m + 3 - 12 * floor(m / 10)
  local year = 100 * b + d - 4800 + floor(m / 10)
  return string.format("%04d-%02d-%02d", year, month, day)
end

-- recompute(data, known, today, A): data: { [client] = { [date] = requests } }; known: { [date] = true };
-- today: "YYYY-MM-DD"; A: the allowance -> { projection =, clients = { [client] = projection }, low =, high =, mtd = }
function M.recompute(data, known, today, A)
  local T = M.jdn(today)
  local y, m = today:match("^(%d+)-(%d+)")
  local first = M.jdn(string.format("%s-%s-01", y, m))
  local ny, nm = tonumber(y), tonumber(m) + 1
  if nm == 13 then ny, nm = ny + 1, 1 end
  local last = M.jdn(string.format("%04d-%02d-01", ny, nm)) - 1
  local lm_first = M.jdn(M.from_jdn(first - 1):sub(1, 8) .. "01")
  local span_first = math.min(lm_first, T - 28)
  local org = {}
  for _, days in pairs(data) do
    for date, v in pairs(days) do org[date] = (org[date] or 0) + v end
  end
  -- history: held days from the first with any request
  local h0
  for j = span_first, T - 1 do
    local s = M.from_jdn(j)
    if known[s] and (org[s] or 0) > 0 then h0 = j break end
  end
  local function hist(j) return known[M.from_jdn(j)] and (not h0 or j >= h0) end
  local base, recent = {}, {}
  for j = T - 28, T - 8 do if hist(j) then base[#base + 1] = j end end
  for j = T - 7, T - 1 do if hist(j) then recent[#recent + 1] = j end end
  local function val(c, j) return data[c][M.from_jdn(j)] or 0 end
  local est_days = {}
  for j = first, T - 1 do if not known[M.from_jdn(j)] then est_days[#est_days + 1] = j end end
  for j = T, last do est_days[#est_days + 1] = j end
  local mtd = 0
  for j = first, T - 1 do if known[M.from_jdn(j)] then mtd = mtd + (org[M.from_jdn(j)] or 0) end end
  local out = { clients = {}, mtd = mtd }
  local est_total = 0
  local steady = {}
  for c in pairs(data) do
    local b, r = 0, 0
    for _, j in ipairs(base) do b = b + val(c, j) end
    for _, j in ipairs(recent) do r = r + val(c, j) end
    local flagged = false
    local seen_first
    for j = span_first, T - 1 do if val(c, j) > 0 and known[M.from_jdn(j)] then seen_first = j break end end
    if #base >= 7 and #recent >= 3 then
      b, r = b / #base, r / #recent
      local len = last - first + 1
      local h_first
      for j = span_first, T - 1 do if hist(j) then h_first = j break end end
      if seen_first and h_first and seen_first > h_first and seen_first >= T - 28 and r * len >= 0.01 * A then
        flagged = true
      elseif math.abs(r - b) * len >= 0.01 * A and (r >= 2 * b or r <= b / 2) then
        flagged = true
      end
    end
    steady[c] = not flagged
    local rate = {}
    for w = 0, 6 do
      if flagged then
        local d
        for _, j in ipairs(recent) do if j % 7 == w then d = j end end
        if d and not (seen_first and h0 and seen_first > h0 and d < seen_first) then
          rate[w] = val(c, d)
        else
          local s, n = 0, 0
          for _, j in ipairs(recent) do
            if not (seen_first and h0 and seen_first > h0 and j < seen_first) then s, n = s + val(c, j), n + 1 end
          end
          rate[w] = n > 0 and s / n or 0
        end
      else
        local s, n, all, alln = 0, 0, 0, 0
        for j = T - 28, T - 1 do
          if hist(j) then
            all, alln = all + val(c, j), alln + 1
            if j % 7 == w then s, n = s + val(c, j), n + 1 end
          end
        end
        rate[w] = n > 0 and s / n or (alln > 0 and all / alln or 0)
      end
    end
    local c_mtd, c_est = 0, 0
    for j = first, T - 1 do if known[M.from_jdn(j)] then c_mtd = c_mtd + val(c, j) end end
    for _, j in ipairs(est_days) do c_est = c_est + rate[j % 7] end
    out.clients[c] = floor(c_mtd + c_est + 0.5)
    est_total = est_total + c_est
  end
  out.projection = floor(mtd + est_total + 0.5)
  -- the band: steady clients' totals of the complete weeks
  local weeks = {}
  for i = 0, 3 do
    local a, ok, s = T - 28 + 7 * i, true, 0
    for j = a, a + 6 do
      if not hist(j) then ok = false end
      for c in pairs(data) do if steady[c] then s = s + val(c, j) end end
    end
    if ok then weeks[#weeks + 1] = s end
  end
  if #weeks >= 2 then
    local d2 = { [2] = 1.128, [3] = 1.693, [4] = 2.059 }
    local sum, lo, hi = 0, math.huge, 0
    for _, s in ipairs(weeks) do sum, lo, hi = sum + s, math.min(lo, s), math.max(hi, s) end
    local mean, f = sum / #weeks, d2[4] / d2[#weeks]
    out.low = floor(mtd + est_total * math.max(0, 1 - f * (1 - lo / mean)) + 0.5)
    out.high = floor(mtd + est_total * (1 + f * (hi / mean - 1)) + 0.5)
  end
  return out
end


return M
