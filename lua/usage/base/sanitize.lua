-- usage.base.sanitize: text that came from a server, made safe for the output it goes to. Every writer of the
-- command line (the table, CSV, JSON, NDJSON, the report's SVG and HTML, every line on stderr) passes its
-- strings through here; no format has a fix of its own.
--
--   utf8(s)     valid UTF-8: each ill-formed sequence (a stray byte, a truncated or overlong sequence, a
--               surrogate, beyond U+10FFFF) becomes U+FFFD, one per maximal subpart (as Unicode advises)
--   display(s)  for people (a terminal, a table cell, an SVG or HTML text): utf8(s), and every character
--               that controls, hides or reorders text shown visibly, in the notation of Python's repr:
--               \n \r \t, \x1b for other C0 controls, DEL and the C1 controls (U+0080-U+009F: \x9b is
--               the one-character CSI), \u202e for BIDI embeddings, overrides and isolates
--               (U+202A-U+202E, U+2066-U+2069), the other invisible format characters (zero-width spaces
--               and joiners, LRM/RLM/ALM, word joiner, soft hyphen, BOM, tags, fillers, line and
--               paragraph separators) and the noncharacters (U+FFFE, U+FFFF, U+FDD0-U+FDEF, ...); one
--               line, whatever it held
--   csv(s, raw) a CSV cell before quoting: utf8(s), NUL and the other C0 controls but tab, CR and LF (which
--               quoting keeps) and DEL as U+FFFD; and, unless raw, a cell a spreadsheet would run as a
--               formula (its first character, after any blanks, one of = + - @ tab CR: OWASP's CSV
--               injection advice) starts with a ' so that it is read as text
--   json(s)     a JSON string literal (quotes included) of utf8(s): RFC 8259 text whatever the bytes
--   xml(s)      display(s) with & < > " ' escaped: text or an attribute value of SVG and HTML, free of
--               every character XML 1.0 forbids (controls, U+FFFE, U+FFFF)
-- Anything that is not a string is turned into one first (tostring).

local json_encode = require("usage.base.json").encode

local M = {}

local byte, char, find, format, sub, gsub = string.byte, string.char, string.find, string.format, string.sub,
                                            string.gsub
local concat, tostring, type = table.concat, tostring, type

M.REPLACEMENT = "\239\191\189" -- U+FFFD
local REPLACEMENT = M.REPLACEMENT

-- the UTF-8 bytes of a code point
local function encode(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + (cp - cp % 64) / 64, 0x80 + cp % 64) end
  if cp < 0x10000 then
    return char(0xE0 + (cp - cp % 4096) / 4096, 0x80 + ((cp - cp % 64) / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + (cp - cp % 262144) / 262144, 0x80 + ((cp - cp % 4096) / 4096) % 64,
              0x80 + ((cp - cp % 64) / 64) % 64, 0x80 + cp % 64)
end

-- decode(s, i) -> code point, index after it | nil, index after the maximal ill-formed subpart
local function decode(s, i)
  local c = byte(s, i)
  if c < 0x80 then return c, i + 1 end
  local need, cp, lo, hi = 0, 0, 0x80, 0xBF
  if c >= 0xC2 and c <= 0xDF then
    need, cp = 1, c - 0xC0
  elseif c >= 0xE0 and c <= 0xEF then
    need, cp = 2, c - 0xE0
    if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end -- no overlongs, no surrogates
  elseif c >= 0xF0 and c <= 0xF4 then
    need, cp = 3, c - 0xF0
    if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end -- no overlongs, nothing past U+10FFFF
  else
    return nil, i + 1
  end
  local j = i + 1
  for k = 1, need do
    local b = byte(s, j)
    if not b or b < (k == 1 and lo or 0x80) or b > (k == 1 and hi or 0xBF) then return nil, j end
    cp = cp * 64 + (b - 0x80)
    j = j + 1
  end
  return cp, j
end
M.decode = decode

-- rewrite(s, plain, policy) -> s with each ill-formed sequence as U+FFFD and each code point for which
-- policy(cp) gives a string replaced by it. `plain` is a pattern class of the bytes that need no look
-- (runs of them are copied at once).
local function rewrite(s, plain, policy)
  local out, n, i, len = {}, 0, 1, #s
  while i <= len do
    local a, b = find(s, plain, i)
    if a == i then
      n = n + 1
      out[n] = sub(s, a, b)
      i = b + 1
    else
      local cp, j = decode(s, i)
      local rep
      if cp == nil then rep = REPLACEMENT elseif policy then rep = policy(cp) end
      n = n + 1
      out[n] = rep or sub(s, i, j - 1)
      i = j
    end
  end
  return concat(out, "", 1, n)
end

-- a small memo per rewrite: the same names come back on every row (only short strings: at most 4,096 of
-- 256 bytes each, whatever the server sends)
local function memo(fn)
  local cache, count = {}, 0
  return function(s)
    if #s > 256 then return fn(s) end
    local v = cache[s]
    if v then return v end
    v = fn(s)
    if count >= 4096 then cache, count = {}, 0 end
    cache[s], count = v, count + 1
    return v
  end
end

---------------------------------------------------------------------------------------------------
-- utf8

local utf8_fix = memo(function(s) return rewrite(s, "^[%z\1-\127]+", nil) end)

function M.utf8(s)
  if type(s) ~= "string" then s = tostring(s) end
  if not find(s, "[\128-\255]") then return s end
  return utf8_fix(s)
end

---------------------------------------------------------------------------------------------------
-- display

-- invisible or text-reordering characters (other than the controls): inclusive ranges
local HIDDEN = {
  { 0x00AD, 0x00AD }, { 0x034F, 0x034F }, { 0x0600, 0x0605 }, { 0x061C, 0x061C }, { 0x06DD, 0x06DD },
  { 0x070F, 0x070F }, { 0x0890, 0x0891 }, { 0x08E2, 0x08E2 }, { 0x115F, 0x1160 }, { 0x17B4, 0x17B5 },
  { 0x180B, 0x180F }, { 0x200B, 0x200F }, { 0x2028, 0x202E }, { 0x2060, 0x206F }, { 0x3164, 0x3164 },
  { 0xFDD0, 0xFDEF }, { 0xFEFF, 0xFEFF }, { 0xFFA0, 0xFFA0 }, { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD },
  { 0x110CD, 0x110CD }, { 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A }, { 0xE0000, 0xE0FFF },
}

local SHORT = { [9] = "\\t", [10] = "\\n", [13] = "\\r" }

-- the visible form of a code point that must not reach a reader as it is, or nil
local function visible(cp)
  if cp < 0x20 or (cp >= 0x7F and cp <= 0x9F) then return SHORT[cp] or format("\\x%02x", cp) end
  if cp < 0xAD then return nil end
  if cp % 0x10000 >= 0xFFFE then return format(cp < 0x10000 and "\\u%04x" or "\\U%08x", cp) end -- noncharacters
  for k = 1, #HIDDEN do
    local r = HIDDEN[k]
    if cp < r[1] then return nil end
    if cp <= r[2] then return format(cp < 0x10000 and "\\u%04x" or "\\U%08x", cp) end
  end
  return nil
end
M.visible = visible

local display_fix = memo(function(s) return rewrite(s, "^[\32-\126]+", visible) end)

function M.display(s)
  if type(s) ~= "string" then s = tostring(s) end
  if not find(s, "[^\32-\126]") then return s end
  return display_fix(s)
end

---------------------------------------------------------------------------------------------------
-- csv

local function csv_policy(cp)
  if (cp < 0x20 and cp ~= 9 and cp ~= 10 and cp ~= 13) or cp == 0x7F then return REPLACEMENT end
  return nil
end
local csv_fix = memo(function(s) return rewrite(s, "^[\9\10\13\32-\126]+", csv_policy) end)

-- a cell a spreadsheet would take for a formula: = + - @ tab or CR first, after any blanks
local FORMULA = "^[ \t\r\n]*[=+%-@\t\r]"

function M.csv(s, raw)
  if type(s) ~= "string" then s = tostring(s) end
  if find(s, "[^\9\10\13\32-\126]") then s = csv_fix(s) end
  if not raw and find(s, FORMULA) then s = "'" .. s end
  return s
end

---------------------------------------------------------------------------------------------------
-- json, xml

function M.json(s)
  return json_encode(M.utf8(s))
end

local XML = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

function M.xml(s)
  s = M.display(s)
  if find(s, "[&<>\"']") then s = gsub(s, "[&<>\"']", XML) end
  return s
end

M.encode = encode

return M
