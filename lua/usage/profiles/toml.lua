-- usage.profiles.toml: a small, strict reader of the TOML the Genesys Cloud CLI (gc) writes in
-- ~/.gc/config.toml: tables of one name ([default], [acme], ["my profile"]) holding key = value lines,
-- where a value is a string ("basic" with escapes, or 'literal'), true/false or a decimal integer.
-- Comments (#), blank lines, indentation and CRLF line ends are fine. Anything else TOML allows (arrays,
-- inline tables, dotted keys or table names, multi-line strings, floats, dates) and anything TOML
-- forbids (a key or a table given twice, control characters, text that is not UTF-8) is refused with
-- the line number, never with the text of the line (it may hold a secret).
--   local doc, err = toml.parse(text)  -> { [table name] = { [key] = value } } | nil, "line N: ..."

local M = {}

M.MAX_SIZE = 1024 * 1024 -- a profile file is a few hundred bytes; more is not one

local char, concat = string.char, table.concat

-- the UTF-8 bytes of a code point (nil for surrogates and beyond U+10FFFF, which TOML forbids)
local function utf8_bytes(cp)
  if cp >= 0xD800 and cp <= 0xDFFF or cp > 0x10FFFF then return nil end
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64, 0x80 + math.floor(cp / 64) % 64,
              0x80 + cp % 64)
end

-- Is s valid UTF-8 (no overlong forms, no surrogates)?
local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local need, lo, hi = 0, 0x80, 0xBF
    if c < 0x80 then need = 0
    elseif c >= 0xC2 and c <= 0xDF then need = 1
    elseif c >= 0xE0 and c <= 0xEF then
      need = 2
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      need = 3
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else
      return false
    end
    for k = 1, need do
      local b = s:byte(i + k)
      if not b or b < (k == 1 and lo or 0x80) or b > (k == 1 and hi or 0xBF) then return false end
    end
    i = i + need + 1
  end
  return true
end

local ESCAPES = { b = "\b", t = "\t", n = "\n", f = "\f", r = "\r", ['"'] = '"', ["\\"] = "\\" }

-- a basic string starting at s[i] (the opening quote) -> value, position after it | nil, reason
local function basic_string(s, i)
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == "" then return nil, "a string is not closed" end
    if c == '"' then return concat(out), j + 1 end
    if c == "\\" then
      local e = s:sub(j + 1, j + 1)
      if ESCAPES[e] then
        out[#out + 1] = ESCAPES[e]
        j = j + 2
      elseif e == "u" or e == "U" then
        local len = e == "u" and 4 or 8
        local hex = s:sub(j + 2, j + 1 + len)
        local bytes = #hex == len and hex:match("^%x+$") and utf8_bytes(tonumber(hex, 16))
        if not bytes then return nil, "a bad \\" .. e .. " escape" end
        out[#out + 1] = bytes
        j = j + 2 + len
      else
        return nil, "an unknown escape in a string"
      end
    elseif c:match("[%z\1-\8\10-\31\127]") then
      return nil, "a control character in a string"
    else
      out[#out + 1] = c
      j = j + 1
    end
  end
end

local function literal_string(s, i)
  local close = s:find("'", i + 1, true)
  if not close then return nil, "a string is not closed" end
  local v = s:sub(i + 1, close - 1)
  if v:find("[%z\1-\8\10-\31\127]") then return nil, "a control character in a string" end
  return v, close + 1
end

-- a key or a table name at s[i] -> name, position after it | nil, reason
local function key_at(s, i)
  local c = s:sub(i, i)
  if c == '"' then return basic_string(s, i) end
  if c == "'" then return literal_string(s, i) end
  local name = s:match("^[%w_%-]+", i)
  if not name then return nil, "expected a name" end
  return name, i + #name
end

-- a value at s[i] -> value, position after it | nil, reason
local function value_at(s, i)
  local c = s:sub(i, i)
  if s:sub(i, i + 2) == '"""' or s:sub(i, i + 2) == "'''" then return nil, "multi-line strings are not supported" end
  if c == '"' then return basic_string(s, i) end
  if c == "'" then return literal_string(s, i) end
  local word = s:match("^[%w_%+%-%.:]+", i)
  if word == "true" then return true, i + 4 end
  if word == "false" then return false, i + 5 end
  if word and word:match("^[%+%-]?%d+$") and not word:match("^[%+%-]?0%d") and #word <= 16 then
    return math.tointeger and math.tointeger(tonumber(word)) or tonumber(word), i + #word
  end
  if c == "[" or c == "{" then return nil, "arrays and inline tables are not supported" end
  return nil, "expected a string, true, false or a whole number"
end

-- the rest of a line after a value or a header: blanks, then nothing or a comment
local function only_comment(s, i)
  local rest = s:sub(i)
  return rest:match("^[ \t]*$") or rest:match("^[ \t]*#")
end

-- parse(text) -> { [table] = { [key] = value } } (keys before any table are in doc[""]) | nil, message
function M.parse(s)
  if type(s) ~= "string" then return nil, "not text" end
  if #s > M.MAX_SIZE then return nil, "larger than " .. M.MAX_SIZE .. " bytes" end
  if s:sub(1, 3) == "\239\187\191" then s = s:sub(4) end
  if not valid_utf8(s) then return nil, "not UTF-8 text" end
  local doc, current, n = {}, nil, 0
  doc[""] = {}
  current = doc[""]
  for line in (s:gsub("\r\n", "\n") .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local function bad(why) return nil, "line " .. n .. ": " .. why end
    if line:find("[%z\1-\8\10-\31\127]") or line:find("\r", 1, true) then return bad("a control character") end
    local i = line:find("[^ \t]") or (#line + 1)
    local c = line:sub(i, i)
    if c == "" or c == "#" then -- blank, comment
      -- nothing
    elseif c == "[" then
      if line:sub(i + 1, i + 1) == "[" then return bad("arrays of tables are not supported") end
      local j = line:find("[^ \t]", i + 1) or (#line + 1)
      local name, after = key_at(line, j)
      if not name then return bad(after) end
      j = line:find("[^ \t]", after) or (#line + 1)
      if line:sub(j, j) == "." then return bad("dotted table names are not supported") end
      if line:sub(j, j) ~= "]" or not only_comment(line, j + 1) then return bad("expected ] after the table name") end
      if doc[name] and name ~= "" then return bad("the table [" .. name .. "] is given twice") end
      if name == "" then return bad("an empty table name") end
      doc[name] = {}
      current = doc[name]
    else
      local key, after = key_at(line, i)
      if not key then return bad(after) end
      local j = line:find("[^ \t]", after) or (#line + 1)
      if line:sub(j, j) == "." then return bad("dotted keys are not supported") end
      if line:sub(j, j) ~= "=" then return bad("expected = after the key") end
      j = line:find("[^ \t]", j + 1)
      if not j then return bad("the key has no value") end
      local value, rest = value_at(line, j)
      if value == nil then return bad(rest) end
      if not only_comment(line, rest) then return bad("unexpected text after the value") end
      if current[key] ~= nil then return bad("a key is given twice in its table") end
      current[key] = value
    end
  end
  return doc
end

return M
