-- usage.prometheus.text: the Prometheus text exposition format (version 0.0.4), generic: a writer of
-- families (HELP, TYPE, samples), value formatting, label and HELP escaping, name checks. Pure Lua (5.4 and
-- LuaJIT), no global state; raises only on programmer errors (wrong types, bad names, a sample twice).
--
--   local w = require("usage.prometheus.text").writer()
--   w:family("x_total", "counter", "Things seen."):add({ kind = "a" }, 3)
--   local text = w:render()                                -- families by name, samples by label set

local M = {}

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
M.DEFAULT_MAX_CLIENTS = 500

local type, tostring, pairs, ipairs, error, setmetatable = type, tostring, pairs, ipairs, error, setmetatable
local format, byte, find, gsub, sub = string.format, string.byte, string.find, string.gsub, string.sub
local concat, sort = table.concat, table.sort
local floor, huge = math.floor, math.huge
local math_type = math.type

local function fail(message, level)
  error("usage.prometheus: " .. message, (level or 1) + 1)
end

---------------------------------------------------------------------------------------------------
-- values

-- A sample value as text: integers in full (also LuaJIT's doubles, never 1e+15), other finite
-- numbers with the fewest digits that read back as the same double, +Inf, -Inf, NaN.
local function value_text(v)
  if math_type and math_type(v) == "integer" then return format("%d", v) end
  if v ~= v then return "NaN" end
  if v == huge then return "+Inf" end
  if v == -huge then return "-Inf" end
  if v == floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then return format("%.0f", v) end
  for _, f in ipairs { "%.15g", "%.16g" } do
    local text = format(f, v)
    if tonumber(text) == v then return text end
  end
  return format("%.17g", v)
end
M.value_text = value_text

---------------------------------------------------------------------------------------------------
-- text

local REPLACEMENT = "\239\191\189" -- U+FFFD

-- s with every byte that does not start a valid UTF-8 sequence (overlong forms, surrogates and code
-- points above U+10FFFF included) replaced by U+FFFD: Prometheus rejects a whole scrape whose label
-- values are not valid UTF-8.
local function valid_utf8(s)
  if not find(s, "[\128-\255]") then return s end
  local out, n = {}, 0
  local i, len, run = 1, #s, 1
  while i <= len do
    local c = byte(s, i)
    local size = 0
    if c < 0x80 then
      size = 1
    elseif c >= 0xC2 and c <= 0xF4 then
      local need = c <= 0xDF and 1 or (c <= 0xEF and 2 or 3)
      local lo, hi = 0x80, 0xBF -- the range of the second byte
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F
      elseif c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
      local b = byte(s, i + 1)
      if b and b >= lo and b <= hi then
        size = need + 1
        for k = 2, need do
          b = byte(s, i + k)
          if not b or b < 0x80 or b > 0xBF then size = 0 break end
        end
      end
    end
    if size > 0 then
      i = i + size
    else
      out[n + 1] = sub(s, run, i - 1)
      out[n + 2] = REPLACEMENT
      n = n + 2
      i = i + 1
      run = i
    end
  end
  out[n + 1] = sub(s, run)
  return concat(out)
end
M.valid_utf8 = valid_utf8

local LABEL_ESCAPES = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }

-- escaper(chars) -> function(s): s made valid UTF-8, with the characters of the class `chars` escaped
local function escaper(chars)
  return function(s)
    s = valid_utf8(s)
    if find(s, chars) then s = gsub(s, chars, LABEL_ESCAPES) end
    return s
  end
end

-- a label value as it goes between the double quotes: \ " and newline escaped
local escape_label_value = escaper('[\\"\n]')
M.escape_label_value = escape_label_value

-- a HELP text: \ and newline escaped
local escape_help = escaper("[\\\n]")
M.escape_help = escape_help

local function is_metric_name(s)
  return type(s) == "string" and find(s, "^[a-zA-Z_:][a-zA-Z0-9_:]*$") ~= nil
end

local function is_label_name(s)
  return type(s) == "string" and find(s, "^[a-zA-Z_][a-zA-Z0-9_]*$") ~= nil and sub(s, 1, 2) ~= "__"
end
M.is_metric_name = is_metric_name
M.is_label_name = is_label_name

---------------------------------------------------------------------------------------------------
-- the writer

local Family = {}
Family.__index = Family

-- family:add(labels, value) -> family. labels: { name = string|number } (may be empty or nil);
-- value: a number. A label set given twice raises.
function Family:add(labels, value)
  if type(value) ~= "number" then
    fail("the value of a sample of " .. self.name .. " must be a number, got " .. type(value), 2)
  end
  if labels ~= nil and type(labels) ~= "table" then
    fail("the labels of a sample of " .. self.name .. " must be a table, got " .. type(labels), 2)
  end
  local names = {}
  for k, v in pairs(labels or {}) do
    if not is_label_name(k) then
      fail("bad label name " .. format("%q", tostring(k)) .. " in a sample of " .. self.name ..
        " (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", 2)
    end
    local tv = type(v)
    if tv ~= "string" and tv ~= "number" then
      fail("label " .. k .. " of a sample of " .. self.name .. " must be a string or number, got " .. tv, 2)
    end
    names[#names + 1] = k
  end
  sort(names)
  local key = ""
  if #names > 0 then
    local parts = {}
    for i, k in ipairs(names) do
      local v = labels[k]
      parts[i] = k .. '="' .. escape_label_value(type(v) == "number" and value_text(v) or v) .. '"'
    end
    key = "{" .. concat(parts, ",") .. "}"
  end
  if self.keys[key] then fail("sample " .. self.name .. key .. " given twice", 2) end
  self.keys[key] = true
  local samples = self.samples
  samples[#samples + 1] = { key = key, value = value }
  return self
end

-- the number of samples so far
function Family:size()
  return #self.samples
end

local Writer = {}
Writer.__index = Writer

local KINDS = { gauge = true, counter = true }

-- writer:family(name, kind, help) -> family. kind: "gauge" or "counter"; counters end in _total
-- and other families don't (the OpenMetrics convention promtool checks). Declaring a name again
-- with the same kind and help returns the same family.
function Writer:family(name, kind, help)
  if not is_metric_name(name) then
    fail("bad metric name " .. format("%q", tostring(name)) .. " (expected [a-zA-Z_:][a-zA-Z0-9_:]*)", 2)
  end
  if not KINDS[kind] then fail("the type of " .. name .. " must be \"gauge\" or \"counter\", got " .. tostring(kind), 2) end
  if type(help) ~= "string" or help == "" then fail("the help of " .. name .. " must be a non-empty string", 2) end
  local ends_total = sub(name, -6) == "_total"
  if kind == "counter" and not ends_total then fail("counter " .. name .. " must end in _total", 2) end
  if kind ~= "counter" and ends_total then fail(kind .. " " .. name .. " must not end in _total", 2) end
  local f = self.by_name[name]
  if f then
    if f.kind ~= kind or f.help ~= help then fail("family " .. name .. " declared twice, differently", 2) end
    return f
  end
  f = setmetatable({ name = name, kind = kind, help = help, samples = {}, keys = {} }, Family)
  self.by_name[name] = f
  self.families[#self.families + 1] = f
  return f
end

-- writer:add(name, labels, value): a sample of a declared family
function Writer:add(name, labels, value)
  local f = self.by_name[name]
  if not f then fail("family " .. tostring(name) .. " is not declared", 2) end
  f:add(labels, value)
  return self
end

-- writer:comment(text): a comment line ("# text") before the families; it must not start with
-- HELP or TYPE. Parsers skip it: it is for people reading the output.
function Writer:comment(text)
  if type(text) ~= "string" then fail("a comment must be a string", 2) end
  text = gsub(escape_help(text), "\r", "\\r")
  if find(text, "^%s*HELP%s") or find(text, "^%s*TYPE%s") or find(text, "^%s*HELP$") or find(text, "^%s*TYPE$") then
    fail("a comment must not start with HELP or TYPE", 2)
  end
  self.comments[#self.comments + 1] = text
  return self
end

local function by_name(a, b) return a.name < b.name end
local function by_key(a, b) return a.key < b.key end

-- writer:render() -> text. Families by name, each with one HELP and one TYPE line and its samples
-- sorted by label set; families without samples are left out. The same input gives the same bytes.
function Writer:render()
  local out, n = {}, 0
  for _, c in ipairs(self.comments) do
    out[n + 1] = "# " .. c .. "\n"
    n = n + 1
  end
  local families = {}
  for i, f in ipairs(self.families) do families[i] = f end
  sort(families, by_name)
  for _, f in ipairs(families) do
    local samples = f.samples
    if #samples > 0 then
      local sorted = {}
      for i, s in ipairs(samples) do sorted[i] = s end
      sort(sorted, by_key)
      out[n + 1] = "# HELP " .. f.name .. " " .. escape_help(f.help) .. "\n# TYPE " .. f.name .. " " .. f.kind .. "\n"
      n = n + 1
      local name = f.name
      for _, s in ipairs(sorted) do
        out[n + 1] = name
        out[n + 2] = s.key
        out[n + 3] = " "
        out[n + 4] = value_text(s.value)
        out[n + 5] = "\n"
        n = n + 5
      end
    end
  end
  return concat(out, "", 1, n)
end

-- writer() -> a new, empty writer
function M.writer()
  return setmetatable({ families = {}, by_name = {}, comments = {} }, Writer)
end


return M
