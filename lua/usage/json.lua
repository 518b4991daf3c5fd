-- usage.json: JSON through a private lua-cjson instance (the global cjson settings stay untouched).
-- decode: cjson plus the C bridge that turns counts into Lua integers (Lua 5.3+).
-- encode: structure written here so that arrays stay arrays even when empty (lua-cjson 2.1.0
-- writes {} for an empty table); strings go through cjson's escaping, numbers keep integers exact.

local cjson = require "cjson"
local core = require "usage.core"

local cj = cjson.new()
cj.decode_max_depth(200)
cj.decode_invalid_numbers(false)

local M = {}

M.null = cjson.null

-- Tables with this metatable encode as arrays, `[]` when empty.
local array_mt = { __name = "usage.array" }
M.array_mt = array_mt

function M.array(t)
  return setmetatable(t or {}, array_mt)
end

function M.is_array(t)
  return getmetatable(t) == array_mt
end

M.decode = core.json_decoder(cj.decode)

local math_type = math.type or function(x)
  return (x == math.floor(x) and x > -2 ^ 63 and x < 2 ^ 63) and "integer" or "float"
end
local cj_encode = cj.encode
-- lua-cjson escapes every "/" as "\/"; valid, but noisy in intervals and URIs. Since it escapes
-- them all, each "\/" in its output is such an escape (an escaped backslash is "\\").
local function encode_string(s)
  local out = cj_encode(s)
  if out:find("/", 1, true) then out = out:gsub("\\/", "/") end
  return out
end
local format, concat, sort, tostring, type, pairs, next = string.format, table.concat, table.sort, tostring, type, pairs, next

local encode_value

local function encode_number(x)
  if x ~= x or x == math.huge or x == -math.huge then
    error("usage: cannot encode NaN or infinity as JSON", 0)
  end
  if math_type(x) == "integer" then return format("%d", x) end
  if x == math.floor(x) and x > -2 ^ 53 and x < 2 ^ 53 then return format("%.0f", x) end
  for _, f in ipairs { "%.15g", "%.16g" } do -- the shortest text that reads back as the same number
    local text = format(f, x)
    if tonumber(text) == x then return text end
  end
  return format("%.17g", x)
end

-- a sequence 1..n with nothing else?
local function sequence_length(t)
  local n = #t
  if n == 0 then return 0 end
  local count = 0
  for _ in pairs(t) do
    count = count + 1
    if count > n then return nil end
  end
  return count == n and n or nil
end

local function encode_table(t, depth)
  if depth > 100 then error("usage: value nested too deeply to encode as JSON", 0) end
  local n = sequence_length(t)
  if getmetatable(t) == array_mt or (n and n > 0) then
    if not n then error("usage: an array must only have keys 1..n", 0) end
    local out = {}
    for i = 1, n do out[i] = encode_value(t[i], depth + 1) end
    return "[" .. concat(out, ",") .. "]"
  end
  if next(t) == nil then return "{}" end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      error("usage: cannot encode a table mixing array and object keys as JSON", 0)
    end
    keys[#keys + 1] = k
  end
  sort(keys)
  local out = {}
  for i, k in ipairs(keys) do
    out[i] = encode_string(k) .. ":" .. encode_value(t[k], depth + 1)
  end
  return "{" .. concat(out, ",") .. "}"
end

encode_value = function(v, depth)
  local ty = type(v)
  if ty == "string" then return encode_string(v) end
  if ty == "number" then return encode_number(v) end
  if ty == "boolean" then return tostring(v) end
  if ty == "table" then return encode_table(v, depth) end
  if v == nil or v == cjson.null then return "null" end
  error("usage: cannot encode a " .. ty .. " as JSON", 0)
end

-- encode(value) -> text; raises on values JSON cannot hold (a programmer error).
function M.encode(v)
  return encode_value(v, 0)
end

return M
