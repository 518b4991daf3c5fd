-- usage.base.json: JSON through a private lua-cjson instance (the global cjson settings stay untouched).
-- decode: cjson plus the C bridge that refuses non-finite numbers and, where the installed cjson does not
-- already do it, turns counts into Lua integers (Lua 5.3+).
-- encode: structure written here so that arrays stay arrays even when empty (lua-cjson 2.1.0
-- writes {} for an empty table); strings go through cjson's escaping, numbers keep integers exact.
-- Newer lua-cjson builds (OpenResty's fork, current luarocks) decode integers natively and mark decoded
-- arrays with cjson.array_mt: features() detects both, and then the integer conversion and the marking of
-- empty arrays after decoding (models.mark_arrays) are skipped.

local cjson = require "cjson"
local core = require "usage.core"

local cj = cjson.new()
cj.decode_max_depth(200)
cj.decode_invalid_numbers(false)

local M = {}

M.null = cjson.null

-- What the installed cjson does by itself: integers (decodes 1 as an integer on Lua 5.3+) and
-- array_mt (can mark decoded arrays, so that empty ones encode back as []).
local function features(instance, module)
  local ok, one = pcall(instance.decode, "[1]")
  return {
    integers = ok and math.type ~= nil and math.type(one[1]) == "integer",
    array_mt = type(module.array_mt) == "table" and type(instance.decode_array_with_array_mt) == "function",
  }
end
M.features = features(cj, cjson)

-- Tables with this metatable encode as arrays, `[]` when empty (cjson's own when it has one, so that the
-- arrays it decodes are arrays here too).
local array_mt = M.features.array_mt and cjson.array_mt or { __name = "usage.array" }
M.array_mt = array_mt
if M.features.array_mt then cj.decode_array_with_array_mt(true) end
-- true when decoded arrays come marked already (models.mark_arrays has nothing to do)
M.marks_arrays = M.features.array_mt

function M.array(t)
  return setmetatable(t or {}, array_mt)
end

function M.is_array(t)
  return getmetatable(t) == array_mt
end

M.decode = core.json_decoder(cj.decode, M.features.integers)

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

-- Object keys are few and repeat: their encoded text ('"name":') and the sorted key list of each
-- key set are cached (bounded).
local key_text, key_text_n = {}, 0
local sorted_keys, sorted_keys_n = {}, 0
local CACHE_MAX = 4096

local function encoded_key(k)
  local text = key_text[k]
  if not text then
    if key_text_n >= CACHE_MAX then key_text, key_text_n = {}, 0 end
    text = encode_string(k) .. ":"
    key_text[k] = text
    key_text_n = key_text_n + 1
  end
  return text
end

local function keys_of(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      error("usage: cannot encode a table mixing array and object keys as JSON", 0)
    end
    keys[#keys + 1] = k
  end
  local shape = concat(keys, "\0")
  local sorted = sorted_keys[shape]
  if not sorted then
    sort(keys)
    if sorted_keys_n >= CACHE_MAX then sorted_keys, sorted_keys_n = {}, 0 end
    sorted_keys[shape] = keys
    sorted_keys_n = sorted_keys_n + 1
    sorted = keys
  end
  return sorted
end

-- Everything is appended to one buffer and joined once: no intermediate string per object, which
-- matters on LuaJIT, whose string hash samples only a few bytes of long strings, so thousands of
-- look-alike rows (differing in a count in the middle) would all land in one hash chain.
local encode_into

local function encode_table(t, buf, n, depth)
  if depth > 100 then error("usage: value nested too deeply to encode as JSON", 0) end
  local len = sequence_length(t)
  if getmetatable(t) == array_mt or (len and len > 0) then
    if not len then error("usage: an array must only have keys 1..n", 0) end
    n = n + 1
    buf[n] = "["
    for i = 1, len do
      if i > 1 then
        n = n + 1
        buf[n] = ","
      end
      n = encode_into(t[i], buf, n, depth + 1)
    end
    n = n + 1
    buf[n] = "]"
    return n
  end
  if next(t) == nil then
    n = n + 1
    buf[n] = "{}"
    return n
  end
  local keys = keys_of(t)
  for i = 1, #keys do
    local k = keys[i]
    n = n + 1
    buf[n] = (i == 1 and "{" or ",") .. encoded_key(k)
    n = encode_into(t[k], buf, n, depth + 1)
  end
  n = n + 1
  buf[n] = "}"
  return n
end

encode_into = function(v, buf, n, depth)
  local ty = type(v)
  n = n + 1
  if ty == "string" then
    buf[n] = encode_string(v)
  elseif ty == "number" then
    buf[n] = encode_number(v)
  elseif ty == "boolean" then
    buf[n] = tostring(v)
  elseif ty == "table" then
    return encode_table(v, buf, n - 1, depth)
  elseif v == nil or v == cjson.null then
    buf[n] = "null"
  else
    error("usage: cannot encode a " .. ty .. " as JSON", 0)
  end
  return n
end

-- encode(value) -> text; raises on values JSON cannot hold (a programmer error).
function M.encode(v)
  local buf = {}
  local n = encode_into(v, buf, 0, 0)
  return concat(buf, "", 1, n)
end

return M
