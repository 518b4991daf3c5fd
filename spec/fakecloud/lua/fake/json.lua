-- fake.json: a small JSON encoder for the fake cloud.
--
-- lua-cjson 2.1.0 (Debian) encodes an empty table as {} and big counts as 1e+15, neither of which the
-- Genesys API does. This encoder:
--   * encodes tables marked with json.array(t) as arrays, even when empty ("[]");
--   * encodes other non-empty sequences as arrays, other tables as objects with sorted keys;
--   * encodes integer-valued numbers with %d (exact up to 2^53, no exponent notation);
--   * splices pre-encoded fragments wrapped with json.raw(s) verbatim;
--   * encodes json.null (= cjson.null when cjson is loaded) as null.
-- Decoding is left to cjson (decode_body below wraps it).

local cjson_ok, cjson = pcall(require, "cjson.safe")

local M = {}

local ARRAY_MT = { __name = "json.array" }
local RAW_MT = { __name = "json.raw" }

M.null = cjson_ok and cjson.null or setmetatable({}, { __name = "json.null" })

function M.array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

function M.is_array(t)
  return getmetatable(t) == ARRAY_MT
end

function M.raw(s)
  return setmetatable({ s }, RAW_MT)
end

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}
local function escape_char(c)
  return escapes[c] or string.format("\\u%04x", c:byte())
end

local find, gsub, format, floor, huge = string.find, string.gsub, string.format, math.floor, math.huge
local concat, sort = table.concat, table.sort

local function quote(s)
  if find(s, '[%c"\\]') then
    s = gsub(s, '[%c"\\]', escape_char)
  end
  return '"' .. s .. '"'
end
M.quote = quote

local function number(n)
  if n ~= n or n == huge or n == -huge then return "null" end
  if n == floor(n) and n > -9.2e18 and n < 9.2e18 then
    return format("%d", n)
  end
  return format("%.16g", n)
end
M.number = number

local encode

local function encode_table(t, buf, depth)
  if depth > 100 then error("json: nesting too deep") end
  local mt = getmetatable(t)
  if mt == RAW_MT then
    buf[#buf + 1] = t[1]
    return
  end
  local n = #t
  local is_arr = mt == ARRAY_MT
  if not is_arr and n > 0 then
    -- a sequence without other keys is an array
    local count = 0
    for _ in pairs(t) do count = count + 1 end
    is_arr = count == n
  end
  if is_arr then
    buf[#buf + 1] = "["
    for i = 1, n do
      if i > 1 then buf[#buf + 1] = "," end
      encode(t[i], buf, depth + 1)
    end
    buf[#buf + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then
      keys[#keys + 1] = k
    elseif type(k) == "number" then
      keys[#keys + 1] = k
    end
  end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  buf[#buf + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then buf[#buf + 1] = "," end
    buf[#buf + 1] = quote(type(k) == "number" and number(k) or k)
    buf[#buf + 1] = ":"
    encode(t[k], buf, depth + 1)
  end
  buf[#buf + 1] = "}"
end

encode = function(v, buf, depth)
  local tv = type(v)
  if tv == "string" then
    buf[#buf + 1] = quote(v)
  elseif tv == "number" then
    buf[#buf + 1] = number(v)
  elseif tv == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif v == nil or v == M.null then
    buf[#buf + 1] = "null"
  elseif tv == "table" then
    encode_table(v, buf, depth)
  else
    error("json: cannot encode a " .. tv)
  end
end

function M.encode(v)
  local buf = {}
  encode(v, buf, 0)
  return concat(buf)
end

-- Decode a request body. Returns value or nil, message.
function M.decode(s)
  if not cjson_ok then return nil, "cjson not available" end
  local v, err = cjson.decode(s)
  if v == nil then return nil, err end
  return v
end

return M
