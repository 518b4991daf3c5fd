-- usage.cli.formats: the row formats of the command line over the unified columns (usage.cli.columns).
--   table   aligned columns (display width of UTF-8), counts with thousands separators, a totals line
--           (exact sums, usage.base.rows.sum; "?" and a line saying so where a total cannot be exact), under a
--           header line that names the days covered
--   csv     RFC 4180 with a header line; optional UTF-8 byte order mark (Excel)
--   json    one object: { command, days = { first, last, count, label, complete } | null, weekStart (granularity
--           Week: "Monday (UTC)"), store (read from a history store: { where, org, missing = [dates] }),
--           rows = [...] }
--   ndjson  one object a row, nothing else (the days go to stderr: the format has no room for them)
-- Rows are flat objects whose keys are the column names, in column order; counts are whole numbers.
-- csv, json and ndjson write each batch as it comes; table collects the rows to align them.
--   local w = formats.writer(name, fh, { columns =, row_model =, meta = { command, days, header, week_start,
--                                        store }, bom =,
--                                        raw_csv =, granularity = })
--   w:write(rows) ... w:finish()
--   w.outside:note()   -- rows dated outside meta.days were left out (usage.cli.outside): the line to say so
-- Without columns, the first batch decides them (a job read with --job, the summary).
-- Whatever the server sent, each format stays valid: every string goes through usage.base.sanitize (valid
-- UTF-8 everywhere; CSV without NUL and with formulas neutralised unless raw_csv; the table with controls,
-- BIDI overrides and invisible characters shown visibly), and a number JSON cannot hold (NaN, infinite)
-- is written null.

local json = require "usage.base.json"
local sanitize = require "usage.base.sanitize"
local rows_mod = require "usage.base.rows"
local text = require "usage.cli.text"
local btext = require "usage.base.text"
local columns_mod = require "usage.cli.columns"
local outside_mod = require "usage.cli.outside"

local M = {}

local concat = table.concat
local value_of, number = columns_mod.value, btext.number

M.ROW_FORMATS = { "table", "csv", "json", "ndjson" }

-- a number as JSON: whole numbers in full, null for NaN and the infinities (JSON has no such numbers)
function M.json_number(v)
  if not btext.finite(v) then return "null" end
  return number(v)
end

local function json_value(v)
  if v == nil then return "null" end
  if type(v) == "number" then return M.json_number(v) end
  if type(v) == "string" then return sanitize.json(v) end
  return json.encode(v)
end

-- one row as a JSON object, keys in column order
local function json_record(cols, row)
  local parts = {}
  for i, c in ipairs(cols) do parts[i] = '"' .. c.name .. '":' .. json_value(value_of(c, row)) end
  return "{" .. concat(parts, ",") .. "}"
end

-- the days object of the json format
function M.days_json(days)
  if not days then return "null" end
  return concat {
    '{"first":', sanitize.json(days.first), ',"last":', sanitize.json(days.last), ',"count":', number(days.count),
    ',"label":', sanitize.json(days.label), ',"complete":', days.partial and "false" or "true", "}",
  }
end

local writers = {}

function writers.csv(w)
  local fh = w.fh
  function w:begin()
    local names = {}
    for i, c in ipairs(self.columns) do names[i] = c.name end
    fh:write(self.opts.bom and text.BOM or "", text.csv_line(names))
  end
  local raw = w.opts.raw_csv
  function w:batch(rows)
    local cols, buf, n = self.columns, {}, 0
    for r = 1, #rows do
      local row = rows[r]
      for i = 1, #cols do
        local v = value_of(cols[i], row)
        buf[n + 1] = v == nil and "" or (type(v) == "number" and number(v) or text.csv_field(v, raw))
        buf[n + 2] = i < #cols and "," or "\r\n"
        n = n + 2
      end
    end
    if n > 0 then fh:write(concat(buf, "", 1, n)) end
  end
end

function writers.ndjson(w)
  local fh = w.fh
  function w:batch(rows)
    local out = {}
    for r = 1, #rows do out[r] = json_record(self.columns, rows[r]) end
    if #out > 0 then fh:write(concat(out, "\n"), "\n") end
  end
end

function writers.json(w)
  local fh = w.fh
  local first = true
  function w:begin()
    local meta = self.opts.meta or {}
    fh:write('{"command":', sanitize.json(meta.command or ""), ',"days":', M.days_json(meta.days))
    if meta.week_start then fh:write(',"weekStart":"Monday (UTC)"') end
    if meta.store then
      local missing = {}
      for i, d in ipairs(meta.store.missing or {}) do missing[i] = sanitize.json(d) end
      fh:write(',"store":{"where":', sanitize.json(meta.store.where), ',"org":', sanitize.json(meta.store.org),
               ',"missing":[', concat(missing, ","), ']}')
    end
    fh:write(',"rows":[')
  end
  function w:batch(rows)
    local out = {}
    for r = 1, #rows do out[r] = json_record(self.columns, rows[r]) end
    if #out == 0 then return end
    fh:write(first and "\n" or ",\n", concat(out, ",\n"))
    first = false
  end
  function w:close()
    fh:write(first and "]}\n" or "\n]}\n")
  end
end

function writers.table(w)
  local fh = w.fh
  local lines, sums = {}, {}
  function w:batch(rows)
    local cols = self.columns
    for r = 1, #rows do
      local cells = {}
      for i, c in ipairs(cols) do
        local v = value_of(c, rows[r])
        if c.count then
          if sums[i] ~= false then sums[i] = rows_mod.sum(sums[i] or 0, v or 0) or false end -- false: not exact
          cells[i] = v and btext.thousands(v) or ""
        else
          cells[i] = v == nil and "" or btext.one_line(type(v) == "number" and number(v) or v)
        end
      end
      lines[#lines + 1] = cells
    end
  end
  function w:close()
    local meta = self.opts.meta or {}
    if meta.header then fh:write(btext.one_line(meta.header), "\n\n") end
    if #lines == 0 then
      fh:write("(no rows)\n")
      return
    end
    local headers, right, inexact = {}, {}, {}
    local total = { label = string.format("total (%s row%s)", btext.thousands(#lines), #lines == 1 and "" or "s") }
    for i, c in ipairs(self.columns) do
      headers[i], right[i] = c.name, c.count
      if c.count then
        if sums[i] == false then
          total[i], inexact[#inexact + 1] = "?", c.name
        else
          total[i] = btext.thousands(sums[i] or 0)
        end
      end
    end
    fh:write(concat(text.render(headers, lines, right, total), "\n"), "\n")
    if #inexact > 0 then -- a total is exact or said to be unknown, never wrong
      fh:write(string.format("? the total of %s cannot be given exactly: it passes %s, the largest count this " ..
                             "interpreter adds exactly (or a count is not a whole number)\n",
                             concat(inexact, ", "), rows_mod.MAX_EXACT_TEXT))
    end
  end
end

-- the date column of a writer's columns, or nil
local function date_column(cols)
  for _, c in ipairs(cols) do
    if c.name == "date" then return c end
  end
  return nil
end

-- writer(name, fh, opts) -> w with w:write(rows), w:finish(), w.count (rows written), w.outside (the
-- filter of the days: rows dated outside meta.days are left out and counted; nil without days or dates)
function M.writer(name, fh, opts)
  local w = { fh = fh, opts = opts or {}, count = 0, columns = opts and opts.columns }
  writers[name](w)
  local started, date_col = false, nil
  local function start(rows)
    if started then return end
    started = true
    w.columns = w.columns or columns_mod.from_rows(w.opts.row_model, rows)
    local days = w.opts.meta and w.opts.meta.days
    date_col = days and date_column(w.columns)
    if date_col then w.outside = outside_mod.new(days, w.opts.granularity) end
    if w.begin then w:begin() end
  end
  function w.write(_, rows)
    start(rows)
    if date_col then
      local kept, n, keep = {}, 0, w.outside
      for r = 1, #rows do
        local row = rows[r]
        local path = date_col.path
        local v = row[path[1]]
        if path[2] then v = type(v) == "table" and v[path[2]] or nil end
        if keep:keep(v) then
          n = n + 1
          kept[n] = row
        end
      end
      rows = kept
    end
    w:batch(rows)
    w.count = w.count + #rows
  end
  function w.finish()
    start({})
    if w.close then w:close() end
  end
  return w
end

return M
