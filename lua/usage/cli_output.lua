-- usage.cli_output: the output formats of genesys-usage (table, csv, json, ndjson), the columns of a
-- row model (derived from usage.models, nested objects flattened), and text helpers (display width
-- of UTF-8 text, integer formatting, RFC 4180 quoting). csv, json and ndjson write each batch of rows
-- as it comes (constant memory); table collects the rows to align them and prints a totals line.

local models = require "usage.models"
local json = require "usage.json"

local M = {}

local floor, format, concat = math.floor, string.format, table.concat
local math_type = math.type
local unpack = table.unpack or unpack -- luacheck: ignore

---------------------------------------------------------------------------------------------------
-- numbers

-- A number as text: integers in full (never 1e+15, also under LuaJIT where they are doubles).
local function number_text(v)
  if math_type and math_type(v) == "integer" then return format("%d", v) end
  if v ~= v then return "NaN" end
  if v == floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then return format("%.0f", v) end
  if v == math.huge then return "inf" elseif v == -math.huge then return "-inf" end
  for _, f in ipairs { "%.15g", "%.16g", "%.17g" } do
    local text = format(f, v)
    if tonumber(text) == v then return text end
  end
  return tostring(v)
end
M.number_text = number_text

-- A cell value as text: strings as they are, numbers as integers, other tables as JSON.
local function cell_text(v)
  local t = type(v)
  if v == nil or v == json.null then return "" end
  if t == "string" then return v end
  if t == "number" then return number_text(v) end
  if t == "table" then
    local ok, s = pcall(json.encode, v)
    return ok and s or ""
  end
  return tostring(v)
end
M.cell_text = cell_text

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

-- Code points of a UTF-8 string (a stray byte counts as one code point of its own value).
local function each_codepoint(s, fn)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local cp, len = c, 1
    if c >= 0xF0 and c <= 0xF4 then
      len = 4
      cp = c - 0xF0
    elseif c >= 0xE0 then
      len = 3
      cp = c - 0xE0
    elseif c >= 0xC2 and c <= 0xDF then
      len = 2
      cp = c - 0xC0
    end
    if len > 1 then
      local ok = i + len - 1 <= n
      for k = 1, len - 1 do
        local b = ok and s:byte(i + k)
        if not b or b < 0x80 or b > 0xBF then ok = false break end
        cp = cp * 64 + (b - 0x80)
      end
      if not ok then cp, len = c, 1 end
    end
    fn(cp)
    i = i + len
  end
end

-- Terminal columns taken by a UTF-8 string.
function M.width(s)
  if not s:find("[\128-\255]") then return #s end
  local w = 0
  each_codepoint(s, function(cp)
    if in_ranges(cp, ZERO) then return end
    w = w + (in_ranges(cp, WIDE) and 2 or 1)
  end)
  return w
end

local width = M.width

local function pad(s, w, right)
  local gap = w - width(s)
  if gap <= 0 then return s end
  if right then return string.rep(" ", gap) .. s end
  return s .. string.rep(" ", gap)
end
M.pad = pad

-- Render rows of cell texts as aligned columns. align[i] = "right" right-aligns column i.
-- opts.total: a last line { label = text, [i] = cell } under a rule; its label spans the columns
-- before its first cell. -> array of lines (no trailing blanks)
function M.render(headers, rows, align, opts)
  local widths = {}
  for i, h in ipairs(headers) do widths[i] = width(h) end
  for _, r in ipairs(rows) do
    for i = 1, #headers do
      local w = width(r[i] or "")
      if w > widths[i] then widths[i] = w end
    end
  end
  local total = opts and opts.total
  local span = 0 -- columns the label of the totals line covers
  if total then
    span = #headers
    for i = 1, #headers do
      if total[i] then span = i - 1 break end
    end
    for i = span + 1, #headers do
      local w = width(total[i] or "")
      if w > widths[i] then widths[i] = w end
    end
    local room = -2
    for i = 1, span do room = room + widths[i] + 2 end
    if span == 0 then
      table.insert(headers, 1, "")
      table.insert(widths, 1, 0)
      for _, r in ipairs(rows) do table.insert(r, 1, "") end
      align = { nil, unpack(align, 1, #headers - 1) }
      span, room = 1, 0
    end
    local need = width(total.label)
    if need > room then widths[span] = widths[span] + need - room end
  end
  local function line(cells, from)
    local out = {}
    for i = from or 1, #headers do out[#out + 1] = pad(cells[i] or "", widths[i], align[i] == "right") end
    return (concat(out, "  "):gsub("%s+$", ""))
  end
  local rule = {}
  for i = 1, #headers do rule[i] = string.rep("-", widths[i]) end
  local lines = { line(headers), concat(rule, "  ") }
  for _, r in ipairs(rows) do lines[#lines + 1] = line(r) end
  if total then
    lines[#lines + 1] = concat(rule, "  ")
    local room = -2
    for i = 1, span do room = room + widths[i] + 2 end
    lines[#lines + 1] = (pad(total.label, room) .. "  " .. line(total, span + 1)):gsub("%s+$", "")
  end
  return lines
end

---------------------------------------------------------------------------------------------------
-- columns of a row model

-- columns(model_name) -> array of { key = "oauthClient.name", path = { "oauthClient", "name" }, count = bool }
-- Order: dates, then the other fields in model order (objects flattened, links left out), then the
-- counts in models.count_fields order.
function M.columns(model_name)
  local model = assert(models.models[model_name], "no model " .. tostring(model_name))
  local counts = models.count_fields[model_name] or {}
  local is_count = {}
  for _, name in ipairs(counts) do is_count[name] = true end
  local dates, others, out = {}, {}, {}
  for _, f in ipairs(model.fields) do
    if f.type == "object" and f.model and not f.array then
      for _, sub in ipairs(models.models[f.model].fields) do
        if sub.name ~= "selfUri" and sub.type ~= "object" then
          others[#others + 1] = { key = f.name .. "." .. sub.name, path = { f.name, sub.name } }
        end
      end
    elseif f.name ~= "selfUri" and not is_count[f.name] and not f.array then
      local col = { key = f.name, path = { f.name } }
      if f.type == "date" or f.type == "datetime" then dates[#dates + 1] = col else others[#others + 1] = col end
    end
  end
  for _, c in ipairs(dates) do out[#out + 1] = c end
  for _, c in ipairs(others) do out[#out + 1] = c end
  for _, name in ipairs(counts) do out[#out + 1] = { key = name, path = { name }, count = true } end
  return out
end

local function get(row, path)
  local v = row[path[1]]
  for i = 2, #path do
    if type(v) ~= "table" then return nil end
    v = v[path[i]]
  end
  return v
end
M.get = get

---------------------------------------------------------------------------------------------------
-- CSV (RFC 4180: CRLF line ends; fields with a comma, quote, CR or LF quoted, quotes doubled)

local function csv_field(s)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end
M.csv_field = csv_field

function M.csv_line(cells)
  local out = {}
  for i, c in ipairs(cells) do out[i] = csv_field(c) end
  return concat(out, ",") .. "\r\n"
end

---------------------------------------------------------------------------------------------------
-- writers: w:write(rows) for each batch, w:finish() once

local writers = {}

-- one accessor function per column (faster than walking paths for every cell)
local function getters_of(columns)
  local getters = {}
  for i, c in ipairs(columns) do
    local a, b = c.path[1], c.path[2]
    if b and not c.path[3] then
      getters[i] = function(row)
        local t = row[a]
        if type(t) == "table" then return t[b] end
        return nil
      end
    elseif b then
      local path = c.path
      getters[i] = function(row) return get(row, path) end
    else
      getters[i] = function(row) return row[a] end
    end
  end
  return getters
end

function writers.csv(fh, columns)
  local w = { count = 0 }
  local keys = {}
  for i, c in ipairs(columns) do keys[i] = c.key end
  local header = M.csv_line(keys)
  local getters, ncols = getters_of(columns), #columns
  local find = string.find
  function w:write(rows)
    if header then -- written with the first rows, so that a failed query prints nothing
      fh:write(header)
      header = nil
    end
    -- every cell of the batch goes into one flat buffer joined once: no string per line (LuaJIT
    -- hashes only a few bytes of long strings, and look-alike lines would share one hash chain)
    local buf, n = {}, 0
    for r = 1, #rows do
      local row = rows[r]
      for i = 1, ncols do
        local v = getters[i](row)
        local t = type(v)
        local cell
        if t == "string" then
          cell = find(v, '[,"\r\n]') and csv_field(v) or v
        elseif t == "number" then
          cell = (math_type and math_type(v) == "integer") and format("%d", v) or number_text(v)
        elseif v == nil then
          cell = ""
        else
          cell = csv_field(cell_text(v))
        end
        buf[n + 1] = cell
        buf[n + 2] = i < ncols and "," or "\r\n"
        n = n + 2
      end
    end
    if n > 0 then fh:write(concat(buf, "", 1, n)) end
    self.count = self.count + #rows
  end
  function w:finish()
    if header then w:write({}) end
  end
  return w
end

function writers.ndjson(fh)
  local w = { count = 0 }
  function w:write(rows)
    if #rows > 0 then fh:write(json.encode_join(rows, "\n"), "\n") end
    self.count = self.count + #rows
  end
  function w:finish() end
  return w
end

function writers.json(fh)
  local w = { count = 0 }
  function w:write(rows)
    if #rows == 0 then return end
    fh:write(self.count == 0 and "[\n" or ",\n", json.encode_join(rows, ",\n"))
    self.count = self.count + #rows
  end
  function w:finish()
    fh:write(self.count == 0 and "[]\n" or "\n]\n")
  end
  return w
end

function writers.table(fh, columns)
  local w = { count = 0, rows = {} }
  local sums = {}
  function w:write(rows)
    for r = 1, #rows do
      local row = rows[r]
      local cells = {}
      for i, c in ipairs(columns) do
        local v = get(row, c.path)
        if c.count and type(v) == "number" then sums[i] = (sums[i] or 0) + v end
        cells[i] = cell_text(v):gsub("%c", " ")
      end
      self.rows[#self.rows + 1] = cells
    end
    self.count = self.count + #rows
  end
  function w:finish()
    if self.count == 0 then
      fh:write("(no rows)\n")
      return
    end
    -- show the columns that hold something
    local shown = {}
    for i, c in ipairs(columns) do
      local used = sums[i] ~= nil
      if not used then
        for _, cells in ipairs(self.rows) do
          if cells[i] ~= "" then used = true break end
        end
      end
      if used then shown[#shown + 1] = i end
    end
    local headers, align, out = {}, {}, {}
    for k, i in ipairs(shown) do
      headers[k] = columns[i].key
      align[k] = columns[i].count and "right" or nil
    end
    for r, cells in ipairs(self.rows) do
      local line = {}
      for k, i in ipairs(shown) do line[k] = cells[i] end
      out[r] = line
    end
    local total = { label = string.format("total (%d row%s)", self.count, self.count == 1 and "" or "s") }
    for k, i in ipairs(shown) do
      if columns[i].count then total[k] = number_text(sums[i] or 0) end
    end
    local lines = M.render(headers, out, align, { total = total })
    fh:write(concat(lines, "\n"), "\n")
  end
  return w
end

M.FORMATS = { "table", "csv", "json", "ndjson" }

function M.writer(format_name, fh, columns)
  return writers[format_name](fh, columns)
end

return M
