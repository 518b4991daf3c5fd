-- usage.forecast.text: a forecast result as a table for people.
--
--   io.write(require("usage.forecast.text").render(result, { clients = 10 }))

local words = require "usage.forecast.words"
local ctext = require "usage.base.text"

local M = {}

local format, concat = string.format, table.concat
local thousands, pct = words.thousands, words.pct

local DEFAULT_CLIENTS = 10

--[[ render(result [, opts]) -> text (lines ending in "\n")
  opts.clients  how many clients the table lists (default 10; the called-out ones are always listed);
                the others are summed on one line
]]
function M.render(r, opts)
  opts = opts or {}
  local top = opts.clients or DEFAULT_CLIENTS
  if type(top) ~= "number" or top < 0 then error("usage.forecast.text: opts.clients must be a number >= 0", 2) end
  local out = {}
  local function line(s) out[#out + 1] = s end

  local mtd, p, a = r.month_to_date, r.projection, r.allowance
  line(format("API usage forecast for %s, %s (today, %s, is not over: not counted)", words.clean(r.org),
    r.month.name, r.today.label))
  line("")
  local rows = {}
  local function row(label, figure, share, days) rows[#rows + 1] = { label, figure or "", share or "", days or "" } end
  row("allowance", thousands(a.requests), "", a.label)
  row("month to date", thousands(mtd.requests), pct(mtd.share),
    mtd.days.count > 0 and mtd.days.label or "none yet: no whole day of " .. r.month.name)
  if mtd.missing.count > 0 then row("", "", "", "missing from the source: " .. mtd.missing.label) end
  if p then
    row("projection", thousands(p.requests), pct(p.share), format("%s: %d counted + %d estimated", p.days.label,
      p.counted.days.count, p.estimated.days.count))
    if p.band then
      row("  low", thousands(p.band.low), pct(p.band.low_share), "the rest of the month like the quietest of " ..
        "the last weeks" .. (p.band_note and " (" .. p.band_note .. ")" or ""))
      row("  high", thousands(p.band.high), pct(p.band.high_share), "... like the busiest")
    else
      row("  band", "-", "", p.band_note)
    end
    local ov = r.overage
    local ov_text = ov.requests > 0 and "expected beyond the allowance in " .. r.month.name or "none expected"
    if ov.low and ov.high and (ov.low > 0 or ov.high > 0) then
      ov_text = ov_text .. format(" (band %s - %s)", thousands(ov.low), thousands(ov.high))
    end
    row("overage", thousands(ov.requests), ov.requests > 0 and pct(ov.requests / a.requests) or "", ov_text)
  else
    row("projection", "-", "", "no projection (see the notes)")
  end
  row("runs out", "", "", words.runs_out(r))
  local cmp = r.vs_last_month
  if cmp.this.days.count > 0 then
    row("vs last month", words.vs_last(cmp), "", cmp.this.days.label .. " against " .. cmp.last.days.label)
  else
    row("vs last month", "-", "", mtd.days.count > 0 and "the same days of last month are not in the source" or
      "no whole day of this month yet")
  end
  local lines = ctext.render({ "", "requests", "share", "days" }, rows, { false, true, true, false })
  for i = 3, #lines do line(lines[i]) end -- no header line: the labels say it
  line("")
  if p then
    local at_pace = {}
    for _, c in ipairs(r.called_out) do at_pace[#at_pace + 1] = words.client(c) end
    line(format("Method: %s over %s (%s of history): each day left at the mean of its weekday%s.", r.method.name,
      r.method.window.label, words.plural_days(p.history_days),
      #at_pace > 0 and "; " .. concat(at_pace, ", ") .. " at the last 7 days' pace" or ""))
  end

  -- the clients
  local clients = r.clients
  if #clients > 0 then
    line("")
    line(format("Clients: month to date %s; projection for %s; change against %s", mtd.days.count > 0 and
      mtd.days.label or "(no whole day yet)", r.month.label:match("^(.-) %(") or r.month.label,
      cmp.last.days.count > 0 and cmp.last.days.label or
      (mtd.days.count > 0 and "(last month's days are not in the source)" or "(nothing to compare yet)")))
    local crow = {}
    local rest = { n = 0, mtd = 0, proj = 0 }
    for i, c in ipairs(clients) do
      if i <= top or c.status ~= "steady" then
        crow[#crow + 1] = { ctext.cut(words.client(c), 40), thousands(c.month_to_date.requests),
          c.projection and thousands(c.projection.requests) or "-", c.projection and pct(c.projection.share) or "-",
          words.vs_last(c.vs_last_month), c.status ~= "steady" and c.status or "" }
      else
        rest.n = rest.n + 1
        rest.mtd = rest.mtd + c.month_to_date.requests
        rest.proj = rest.proj + (c.projection and c.projection.requests or 0)
      end
    end
    if rest.n > 0 then
      crow[#crow + 1] = { format("(%d more)", rest.n), thousands(rest.mtd), p and thousands(rest.proj) or "-",
        p and pct(rest.proj / a.requests) or "-", "", "" }
    end
    local cl = ctext.render({ "client", "month to date", "projection", "share", "vs last month", "called out" }, crow,
      { false, true, true, true, true, false })
    for _, l in ipairs(cl) do line("  " .. l) end
  end
  if #r.called_out > 0 then
    line("")
    line("Called out:")
    for _, c in ipairs(r.called_out) do line("  " .. words.called_out(c)) end
  end
  if #r.notes > 0 then
    line("")
    line("Notes:")
    for _, n in ipairs(r.notes) do line("  - " .. words.clean(n)) end
  end
  return concat(out, "\n") .. "\n"
end

return M
