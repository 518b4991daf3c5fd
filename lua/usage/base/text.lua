-- usage.base.text: the text every output shares (the command line, the report, the forecast): numbers as
-- text (integers in full, thousands separators, percentages), the display width of UTF-8 text, aligned
-- tables, and one-line cleaning of text that came from a server (usage.base.sanitize). No number can make
-- them loop or allocate without bound: nan, inf, -inf, huge and negative values are written as text like
-- any other, and a table cell is cut at MAX_CELL columns.

local sanitize = require "usage.base.sanitize"

local M = {}

M.MAX_CELL = 200 -- the widest cell of an aligned table (terminal columns); longer ones end with "…"

local floor, format, concat, rep = math.floor, string.format, table.concat, string.rep
local math_type = math.type

---------------------------------------------------------------------------------------------------
-- numbers

-- A number as text: integers in full (never 1e+15, also under LuaJIT where they are doubles).
function M.number(v)
  if math_type and math_type(v) == "integer" then return format("%d", v) end
  if v ~= v then return "NaN" end
  if v == 0 then return "0" end -- (never "-0")
  if v == floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then return format("%.0f", v) end
  if v == math.huge then return "inf" elseif v == -math.huge then return "-inf" end
  for _, f in ipairs { "%.15g", "%.16g", "%.17g" } do
    local text = format(f, v)
    if tonumber(text) == v then return text end
  end
  return tostring(v)
end

-- 1234567 -> "1,234,567" (whole numbers; anything else as number() writes it)
function M.thousands(v)
  local s = M.number(v)
  local sign, digits = s:match("^(%-?)(%d+)$")
  if not digits or #digits <= 3 then return s end
  local head = #digits % 3
  local parts = { head > 0 and digits:sub(1, head) or nil }
  for i = head + 1, #digits, 3 do parts[#parts + 1] = digits:sub(i, i + 2) end
  return sign .. concat(parts, ",")
end

-- is v a number that is neither infinite nor NaN?
local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end
M.finite = finite

-- 0.1234 -> "12.34%"; a share too small to show is "<0.01%", not "0.00%"; "n/a" when it is no number
-- (NaN, infinite: a total that could not be made)
function M.percent(x)
  if not finite(x) or not finite(x * 100) then return "n/a" end
  if x > 0 and x < 0.00005 then return "<0.01%" end
  return format("%.2f%%", x * 100)
end

-- part / whole, 0 when whole is 0
function M.ratio(part, whole)
  if not whole or whole == 0 then return 0 end
  return (part or 0) / whole
end

---------------------------------------------------------------------------------------------------
-- text from elsewhere

-- s on one line, for people: valid UTF-8, and controls (escape sequences included), BIDI overrides and
-- invisible characters shown visibly (usage.sanitize.display)
function M.one_line(s)
  return sanitize.display(s)
end

---------------------------------------------------------------------------------------------------
-- UTF-8 display width

-- East Asian wide and fullwidth ranges (two terminal columns each) and combining marks (none).
local WIDE = {
  { 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x2329, 0x232A }, { 0x2E80, 0x303E }, { 0x3041, 0x33FF },
  { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF }, { 0xA960, 0xA97F }, { 0xAC00, 0xD7A3 },
  { 0xF900, 0xFAFF }, { 0xFE10, 0xFE19 }, { 0xFE30, 0xFE6F }, { 0xFF00, 0xFF60 }, { 0xFFE0, 0xFFE6 },
  { 0x1F300, 0x1F64F }, { 0x1F900, 0x1F9FF }, { 0x20000, 0x3FFFD },
}
local ZERO = { { 0x0300, 0x036F }, { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF }, { 0x200B, 0x200F },
               { 0x20D0, 0x20FF }, { 0xFE00, 0xFE0F }, { 0xFE20, 0xFE2F } }

local function in_ranges(cp, ranges)
  for i = 1, #ranges do
    local r = ranges[i]
    if cp >= r[1] and cp <= r[2] then return true end
  end
  return false
end

-- the code point at byte i of s and its length (a stray byte is a code point of its own value)
local function codepoint_at(s, i)
  local c = s:byte(i)
  local len, cp = 1, c
  if c >= 0xF0 and c <= 0xF4 then len, cp = 4, c - 0xF0
  elseif c >= 0xE0 and c <= 0xEF then len, cp = 3, c - 0xE0
  elseif c >= 0xC2 and c <= 0xDF then len, cp = 2, c - 0xC0 end
  for k = 1, len - 1 do
    local b = s:byte(i + k)
    if not b or b < 0x80 or b > 0xBF then return c, 1 end
    cp = cp * 64 + (b - 0x80)
  end
  return cp, len
end

-- terminal columns taken by a UTF-8 string
function M.width(s)
  if not s:find("[\128-\255]") then return #s end
  local w, i, n = 0, 1, #s
  while i <= n do
    local cp, len = codepoint_at(s, i)
    if not in_ranges(cp, ZERO) then w = w + (in_ranges(cp, WIDE) and 2 or 1) end
    i = i + len
  end
  return w
end

-- the first `columns` terminal columns of s, cut at a character boundary, with "…" when cut
function M.cut(s, columns)
  if M.width(s) <= columns then return s end
  local out, w, i = {}, 0, 1
  while i <= #s do
    local cp, len = codepoint_at(s, i)
    local cw = in_ranges(cp, ZERO) and 0 or (in_ranges(cp, WIDE) and 2 or 1)
    if w + cw > columns - 1 then break end
    out[#out + 1] = s:sub(i, i + len - 1)
    w, i = w + cw, i + len
  end
  return concat(out) .. "…"
end

local function pad(s, w, right)
  local gap = w - M.width(s)
  if gap <= 0 then return s end
  if right then return rep(" ", gap) .. s end
  return s .. rep(" ", gap)
end
M.pad = pad

-- render(headers, rows, right [, total [, check]]) -> array of lines: aligned columns two spaces apart, a
-- rule under the headers; right[i] right-aligns column i. total: { label = text, [i] = cell } drawn under a
-- second rule, its label spanning the columns before its first cell.
-- Cells wider than MAX_CELL columns are cut (with "…"); check(), when given, is called every 4096 rows (the
-- command line's: a trapped signal stops a long table).
local function no_check() end
function M.render(headers, rows, right, total, check)
  local n = #headers
  local widths = {}
  for i = 1, n do widths[i] = M.width(headers[i]) end
  check = check or no_check
  local function measure(cells, from)
    for i = from, n do
      local cell = cells[i] or ""
      local w = M.width(cell)
      if w > M.MAX_CELL then
        cell = M.cut(cell, M.MAX_CELL)
        cells[i], w = cell, M.width(cell)
      end
      if w > widths[i] then widths[i] = w end
    end
  end
  for k, r in ipairs(rows) do
    if k % 4096 == 0 then check() end
    measure(r, 1)
  end
  local span = 0 -- columns the total's label covers (none: the label gets a line of its own)
  if total then
    while span < n and not total[span + 1] do span = span + 1 end
    measure(total, span + 1)
    local room = -2
    for i = 1, span do room = room + widths[i] + 2 end
    local need = M.width(total.label)
    if span > 0 and need > room then widths[span] = widths[span] + need - room end
  end
  local function line(cells, from)
    local out = {}
    for i = from, n do out[#out + 1] = pad(cells[i] or "", widths[i], right[i]) end
    return (concat(out, "  "):gsub("%s+$", ""))
  end
  local rule = {}
  for i = 1, n do rule[i] = rep("-", widths[i]) end
  rule = concat(rule, "  ")
  local lines = { line(headers, 1), rule }
  for k, r in ipairs(rows) do
    if k % 4096 == 0 then check() end
    lines[#lines + 1] = line(r, 1)
  end
  if total then
    lines[#lines + 1] = rule
    if span == 0 then
      lines[#lines + 1] = total.label
      lines[#lines + 1] = line(total, 1)
    else
      local room = -2
      for i = 1, span do room = room + widths[i] + 2 end
      lines[#lines + 1] = (pad(total.label, room) .. "  " .. line(total, span + 1)):gsub("%s+$", "")
    end
  end
  return lines
end

return M
