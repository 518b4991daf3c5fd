-- usage.cli.text: the text of the command line's own formats: RFC 4180 CSV fields, and aligned tables
-- that a trapped signal (Ctrl-C) stops (usage.base.text.render with the command line's check). Numbers,
-- widths and the table layout are usage.base.text's, shared with the library.

local sanitize = require "usage.base.sanitize"
local btext = require "usage.base.text"
local failure = require "usage.cli.failure"

local M = {}

local concat = table.concat

-- render(headers, rows, right [, total]): usage.base.text.render, stopped by a trapped signal
function M.render(headers, rows, right, total)
  return btext.render(headers, rows, right, total, failure.check)
end

---------------------------------------------------------------------------------------------------
-- CSV (RFC 4180: CRLF line ends; a field with a comma, quote, CR or LF quoted, quotes doubled). Text goes
-- through usage.base.sanitize.csv: valid UTF-8, no NUL or other stray control, and a cell a spreadsheet
-- would run as a formula starts with ' unless raw.

function M.csv_field(s, raw)
  s = sanitize.csv(s, raw)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

function M.csv_line(cells, raw)
  local out = {}
  for i, c in ipairs(cells) do out[i] = M.csv_field(c, raw) end
  return concat(out, ",") .. "\r\n"
end

M.BOM = "\239\187\191" -- U+FEFF in UTF-8: tells Excel that a CSV file is UTF-8

return M
