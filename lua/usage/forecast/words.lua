-- usage.forecast.words: the figures of a forecast result in words, shared by the table for people and the
-- monitoring-plugin output, so that both say the same thing the same way.

local text = require "usage.base.text"
local ptext = require "usage.prometheus.text"

local M = {}

local format = string.format

M.thousands = text.thousands

function M.plural_days(n) return n .. (n == 1 and " day" or " days") end

-- 0.4651 -> "46.5%"; a positive share too small to show is "<0.1%"
function M.pct(x)
  if x == nil then return "-" end
  if x > 0 and x < 0.0005 then return "<0.1%" end
  local s = format("%.1f", x * 100)
  local int, frac = s:match("^(%d+)(%.%d)$")
  if int and #int > 3 then s = M.thousands(tonumber(int)) .. frac end
  return s .. "%"
end

-- a change as a signed percentage: "+35.2%", "-12.0%"
function M.change(x)
  if x == nil then return "-" end
  if x >= 0 then return "+" .. M.pct(x) end
  return "-" .. M.pct(-x)
end

-- text from a server (a client name) on one line, valid UTF-8, without the characters that end a field
-- of the plugin output ("|"): safe in a table and in a plugin's detail lines. C0 controls become spaces;
-- what else a terminal would act on or reorder (C1 controls such as CSI, BIDI overrides, invisible
-- characters) is shown visibly ("\x9b", "\u202e"), as every output of the command line shows it
-- (usage.base.text.one_line)
function M.clean(s)
  s = ptext.valid_utf8(tostring(s or "")):gsub("%c", " ")
  s = text.one_line(s):gsub("|", "/")
  return s
end

-- a client's name for people: its name, else its id, else "(no name)"
function M.client(c)
  if c.name and c.name ~= "" then return M.clean(c.name) end
  if c.id and c.id ~= "" then return M.clean(c.id) end
  return "(no name)"
end

-- a client's change against the same days of last month, in words
function M.vs_last(cmp)
  if not cmp or cmp.this.days.count == 0 then return "-" end
  if cmp.last.requests == 0 then return cmp.this.requests > 0 and "new" or "-" end
  return M.change(cmp.change)
end

-- why a client is called out, in one sentence
function M.called_out(c)
  local name = M.client(c)
  local recent = c.recent_days and c.recent_days.label or "the last 7 days"
  local base = c.base_days and c.base_days.label or "the 3 weeks before"
  local per_day = M.thousands(math.floor((c.recent_daily or 0) + 0.5))
  local before = M.thousands(math.floor((c.base_daily or 0) + 0.5))
  local what
  if c.status == "new" then
    what = format("new: %s requests a day over %s", per_day, recent)
  elseif c.status == "grown" then
    if (c.base_daily or 0) > 0 then
      what = format("grown x%.1f: %s requests a day over %s against %s over %s", c.recent_daily / c.base_daily,
        per_day, recent, before, base)
    else
      what = format("back: %s requests a day over %s, none over %s", per_day, recent, base)
    end
  else
    what = format("dropped: %s requests a day over %s against %s over %s", per_day, recent, before, base)
  end
  if c.first_seen_label and c.status ~= "dropped" then name = name .. " (first request " .. c.first_seen_label .. ")" end
  local tail = ""
  if c.projection then
    tail = format("; at that pace %s this month (%s of the allowance)", M.thousands(c.projection), M.pct(c.share))
  end
  return name .. ": " .. what .. tail
end

-- "the band" in words: "157,800,000 - 168,900,000 (112.7% - 120.6%)"
function M.band(p)
  if not p or not p.band then return nil end
  return format("%s - %s (%s - %s)", M.thousands(p.band.low), M.thousands(p.band.high), M.pct(p.band.low_share),
    M.pct(p.band.high_share))
end

-- the runs-out sentence: "27 March 2026 at the current rate (estimated)" / "passed on 12 March 2026" /
-- "not this month"
function M.runs_out(r)
  if not r.projection then return "unknown (no projection)" end
  local o = r.runs_out
  if not o then return "not this month at the current rate" end
  if o.passed and not o.estimated then return "passed on " .. o.label end
  if o.passed then return "passed on " .. o.label .. " (estimated: the month has days missing from the source)" end
  return o.label .. " at the current rate (estimated)"
end

return M
